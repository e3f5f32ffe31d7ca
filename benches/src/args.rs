//! `--name value` / `--name=value` flags for the bench binaries.

use std::collections::HashMap;

/// Parsed flags.
#[derive(Debug, Default)]
pub struct Args(HashMap<String, String>);

impl Args {
    /// Parses the process arguments.
    pub fn from_env() -> Args {
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(a) = it.next() {
            let flag = a.trim_start_matches("--").to_owned();
            match flag.split_once('=') {
                Some((k, v)) => {
                    map.insert(k.to_owned(), v.to_owned());
                }
                None => {
                    let v = if it.peek().is_some_and(|n| !n.starts_with("--")) {
                        it.next().unwrap_or_default()
                    } else {
                        "true".into()
                    };
                    map.insert(flag, v);
                }
            }
        }
        Args(map)
    }

    /// A flag's value, or a default.
    pub fn get<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.0.get(name).map(String::as_str).unwrap_or(default)
    }

    /// A numeric flag.
    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.0.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// `--send-buffer BYTES` of bench-server and bench-client: `None` when not
    /// given (each stack's default), `Some(None)` for 0 (the kernel's
    /// autotuning), `Some(Some(bytes))` for a fixed `SO_SNDBUF`.
    pub fn send_buffer(&self) -> Option<Option<usize>> {
        let bytes: usize = self.0.get("send-buffer")?.parse().ok()?;
        Some((bytes > 0).then_some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Args {
        Args(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn send_buffer_zero_means_autotuning() {
        assert_eq!(args(&[]).send_buffer(), None);
        assert_eq!(args(&[("send-buffer", "0")]).send_buffer(), Some(None));
        assert_eq!(args(&[("send-buffer", "524288")]).send_buffer(), Some(Some(524288)));
        assert_eq!(args(&[("send-buffer", "lots")]).send_buffer(), None);
    }
}
