//! Generates the `google.rpc` messages (`Status`, the `error_details.proto`
//! details, the `Code` enum) with weir-build: no protoc, messages only.
//! `google.protobuf.Any` and `Duration` are prost-types' (prost-build's
//! default when well-known types are not compiled).
//!
//! The .proto comments become doc comments, and their indented examples
//! (JSON, proto) would become Rust doctests: they are fenced as `text`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    weir_build::configure().build_client(false).build_server(false).compile(
        &[
            "proto/google/rpc/status.proto",
            "proto/google/rpc/error_details.proto",
            "proto/google/rpc/code.proto",
        ],
        &["proto"],
    )?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("google.rpc.rs");
    let code = std::fs::read_to_string(&out)?;
    std::fs::write(&out, fence_indented_examples(&code))
}

/// Wraps each indented code block of the `///` comments in a ```` ```text ````
/// fence. A block starts after a blank comment line with a line indented 4
/// or more columns past the comment's text, and runs while lines are blank or
/// so indented; blank lines that end it stay outside.
fn fence_indented_examples(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = String::with_capacity(code.len() + 1024);
    let mut i = 0;
    while i < lines.len() {
        let Some((prefix, _)) = doc_line(lines[i]) else {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        };
        // One comment: consecutive `///` lines with the same prefix.
        let start = i;
        while i < lines.len() && doc_line(lines[i]).is_some_and(|(p, _)| p == prefix) {
            i += 1;
        }
        let bodies: Vec<&str> = lines[start..i].iter().map(|l| doc_line(l).unwrap().1).collect();
        let base = bodies.iter().filter(|b| !b.trim().is_empty()).map(|b| indent(b)).min().unwrap_or(0);
        let is_code = |b: &str| !b.trim().is_empty() && indent(b) >= base + 4;
        let mut j = 0;
        while j < bodies.len() {
            if is_code(bodies[j]) && (j == 0 || bodies[j - 1].trim().is_empty()) {
                let mut end = j;
                let mut k = j;
                while k < bodies.len() && (bodies[k].trim().is_empty() || is_code(bodies[k])) {
                    if is_code(bodies[k]) {
                        end = k;
                    }
                    k += 1;
                }
                out.push_str(&format!("{prefix} ```text\n"));
                for body in &bodies[j..=end] {
                    out.push_str(&format!("{prefix}{body}\n"));
                }
                out.push_str(&format!("{prefix} ```\n"));
                j = end + 1;
            } else {
                out.push_str(&format!("{prefix}{}\n", bodies[j]));
                j += 1;
            }
        }
    }
    out
}

/// A `///` line split into its prefix (indentation and `///`) and its text.
fn doc_line(line: &str) -> Option<(&str, &str)> {
    let text_at = line.find("///")? + 3;
    line[..text_at - 3].trim().is_empty().then(|| line.split_at(text_at))
}

fn indent(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}
