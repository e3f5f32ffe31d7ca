//! Case bookkeeping: every section module lists its cases (`CASES`, built by
//! [`crate::cases!`]); the summary test prints the table and checks the lists
//! against a scan of the section sources, so a case written but not
//! registered (or registered but not written) fails the suite.

/// One section of a specification, as the summary sees it.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// The section number and title, e.g. `"5.1 Stream States"`.
    pub title: &'static str,
    /// Registered cases, server role first (the module's `CASES`).
    pub cases: &'static [&'static str],
    /// Registered server-role cases (the module's `SERVER_CASES`).
    pub server_cases: &'static [&'static str],
    /// The module's source (`include_str!`), scanned for cases.
    pub source: &'static str,
}

/// What a scan of a section's source finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Server-role case functions (`pub fn name<T: ServerTarget>(...)`).
    pub server: usize,
    /// `#[test]` functions (client role and one-sided tests).
    pub tests: usize,
    /// Of those, client-role tests (`fn client_...`).
    pub client: usize,
    /// h2spec cases named in doc comments (`/// h2spec <group>/<section>/<n>`).
    pub h2spec: usize,
    /// Of those, cases outside h2spec v2.6.0's default run, marked
    /// `(strict)` or `(master)`.
    pub h2spec_extra: usize,
}

/// Scans a section's source.
pub fn scan(source: &str) -> Scan {
    // A server case's signature may be wrapped by rustfmt: look from `pub fn`
    // to the opening parenthesis of its parameters.
    let server = source
        .match_indices("pub fn ")
        .filter(|(at, _)| {
            let rest = &source[*at..];
            let head = &rest[..rest.find('(').unwrap_or(rest.len())];
            head.contains("ServerTarget")
        })
        .count();
    let mut s = Scan { server, ..Scan::default() };
    let mut after_test = false;
    for line in source.lines().map(str::trim_start) {
        if after_test && line.starts_with("fn ") {
            after_test = false;
            if line.starts_with("fn client_") {
                s.client += 1;
            }
        }
        if line == "#[test]" {
            s.tests += 1;
            after_test = true;
        } else if let Some(tag) = line.strip_prefix("/// h2spec ") {
            s.h2spec += 1;
            if tag.contains("(strict)") || tag.contains("(master)") {
                s.h2spec_extra += 1;
            }
        }
    }
    s
}

/// Prints the per-section table and checks each section's registry against
/// its source; returns `(cases, h2spec cases in the default run, extras)`.
#[track_caller]
pub fn summarize(spec: &str, sections: &[Section]) -> (usize, usize, usize) {
    let mut total = (0, 0, 0, 0, 0, 0);
    println!("\n{spec}: cases per section");
    println!(
        "{:<44} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "section", "h2spec", "server", "client", "other", "cases"
    );
    for sec in sections {
        let found = scan(sec.source);
        let server = sec.server_cases.len();
        let tests = sec.cases.len() - server;
        assert_eq!(found.server, server, "{}: server cases written vs registered", sec.title);
        assert_eq!(found.tests, tests, "{}: #[test] functions written vs registered", sec.title);
        assert_eq!(found.h2spec, server, "{}: every server case names its h2spec case", sec.title);
        for name in sec.cases {
            assert!(
                sec.source.contains(&format!("fn {name}(")) || sec.source.contains(&format!("fn {name}<")),
                "{}: registered case {name} is not defined in the section",
                sec.title
            );
            assert_eq!(sec.cases.iter().filter(|n| *n == name).count(), 1, "{name} registered twice");
        }
        let standard = found.h2spec - found.h2spec_extra;
        let other = tests - found.client;
        let row = [standard, server, found.client, other, sec.cases.len()];
        println!("{:<44} {:>7} {:>7} {:>7} {:>7} {:>7}", sec.title, row[0], row[1], row[2], row[3], row[4]);
        total.0 += standard;
        total.1 += found.h2spec_extra;
        total.2 += server;
        total.3 += found.client;
        total.4 += other;
        total.5 += sec.cases.len();
    }
    println!("{:<44} {:>7} {:>7} {:>7} {:>7} {:>7}", "total", total.0, total.2, total.3, total.4, total.5);
    println!(
        "(h2spec: cases of h2spec v2.6.0's default run, {} more from strict mode/master; server: h2spec \
         cases run against every server target; client: client-role tests; other: one-sided tests)",
        total.1
    );
    (total.5, total.0, total.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_counts_cases_tests_and_tags() {
        let src = "/// h2spec http2/5.1/1\npub fn a<T: ServerTarget>(c: &mut H2Conn<T>) {}\n\
                   /// h2spec http2/5.4.1/2 (strict)\n    pub fn b<T: ServerTarget>(c: &mut H2Conn<T>) {}\n\
                   #[test]\nfn client_c() {}\n";
        assert_eq!(scan(src), Scan { server: 2, tests: 1, client: 1, h2spec: 2, h2spec_extra: 1 });
    }
}
