//! The interop binaries' flags, in the official style: `--name=value`,
//! `--name value`, and bare `--name` for booleans.

use std::collections::HashMap;

/// Parsed flags.
#[derive(Debug, Default)]
pub struct Args(HashMap<String, String>);

impl Args {
    /// Parses `--name=value`, `--name value` and `--name` (= "true").
    pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = argv.into_iter().peekable();
        while let Some(a) = it.next() {
            let Some(flag) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a:?}")) };
            match flag.split_once('=') {
                Some((k, v)) => {
                    map.insert(k.to_owned(), v.to_owned());
                }
                None => {
                    let v = match it.peek() {
                        Some(next) if !next.starts_with("--") => it.next().unwrap_or_default(),
                        _ => "true".to_owned(),
                    };
                    map.insert(flag.to_owned(), v);
                }
            }
        }
        Ok(Args(map))
    }

    /// A string flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean flag (absent = false).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1" | "yes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_forms() {
        let a =
            Args::parse(["--port=8080", "--use_tls", "--test_case", "all", "--x=false"].map(String::from))
                .unwrap();
        assert_eq!(a.get("port"), Some("8080"));
        assert!(a.flag("use_tls") && !a.flag("x") && !a.flag("missing"));
        assert_eq!(a.get("test_case"), Some("all"));
        assert!(Args::parse(["stray".to_owned()]).is_err());
    }
}
