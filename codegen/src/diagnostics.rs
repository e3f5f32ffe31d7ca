//! Compile errors the way compilers print them: `path/to/file.proto:LINE:COL:
//! message`, then the offending line with a caret under the spot.
//!
//! protox knows where each error is (its errors are `miette` diagnostics with
//! the file's text and labelled byte spans); we render them ourselves, plainly,
//! so the whole report is one block of text in the `io::Error` a build script
//! returns.

use std::fmt::{self, Write};
use std::io;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, LabeledSpan, SourceCode, SourceSpan};

/// At most this many errors of one failed compilation are rendered (the
/// parser goes on after an error, and one typo can cause many).
const MAX_ERRORS: usize = 10;

/// The error inside the `io::Error`: its `Display` is the report, and so is
/// its `Debug` (on a line of its own), so a `build.rs` whose `main` returns
/// `io::Result<()>` shows the report as written: `io::Error`'s `Debug` wraps it
/// in `Custom { .. }` but does not escape its newlines and quotes.
struct Report(String);

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}\n", self.0)
    }
}

impl std::error::Error for Report {}

/// An `io::Error` carrying `report` as its message.
pub(crate) fn error(kind: io::ErrorKind, report: String) -> io::Error {
    io::Error::new(kind, Report(report))
}

/// A protox error as an `io::Error` whose message is the rendered report.
/// `includes` maps the file names protox reports (relative to an include
/// directory) back to paths one can open.
pub(crate) fn from_protox(err: &protox::Error, includes: &[PathBuf]) -> io::Error {
    let kind = if err.is_file_not_found() { io::ErrorKind::NotFound } else { io::ErrorKind::InvalidInput };
    error(kind, render(err, includes))
}

/// Renders `err`: its own block, one block per related error (up to
/// [`MAX_ERRORS`] in all), and the include directories when a file was not
/// found.
fn render(err: &protox::Error, includes: &[PathBuf]) -> String {
    let path = err.file().map(|name| locate(name, includes));
    let text = err
        .source_code()
        .and_then(whole_text)
        .or_else(|| path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()));
    let mut message = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let _ = write!(message, ": {c}");
        cause = c.source();
    }
    let mut out = String::new();
    block(&mut out, path.as_deref(), text.as_deref(), err, &message, debug_position(err));
    let related: Vec<&dyn Diagnostic> = err.related().map(Iterator::collect).unwrap_or_default();
    for r in related.iter().take(MAX_ERRORS - 1) {
        let own = r.source_code().and_then(whole_text);
        block(&mut out, path.as_deref(), own.as_deref().or(text.as_deref()), *r, &r.to_string(), None);
    }
    if related.len() >= MAX_ERRORS {
        let _ = writeln!(out, "... and {} more errors", related.len() + 1 - MAX_ERRORS);
    }
    if err.is_file_not_found() {
        let dirs: Vec<String> = includes.iter().map(|d| d.display().to_string()).collect();
        let _ = writeln!(out, "  = note: include directories searched: {}", dirs.join(", "));
    }
    out.truncate(out.trim_end().len());
    out
}

/// Where protox found (or would look for) the file it calls `name`: the
/// first include directory holding it, as protox searches them in order.
fn locate(name: &str, includes: &[PathBuf]) -> PathBuf {
    includes.iter().map(|dir| dir.join(name)).find(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(name))
}

/// The whole text of a diagnostic's source: reading the empty span at the
/// start with unlimited lines of context after it yields everything.
fn whole_text(source: &dyn SourceCode) -> Option<String> {
    let contents = source.read_span(&SourceSpan::from(0..0), 0, usize::MAX).ok()?;
    String::from_utf8(contents.data().to_vec()).ok()
}

/// The primary position protox itself puts in front of its message
/// (`file:LINE:COL: ...`, its `Debug` rendering), used to tell which of
/// several labels is the error's own (the order of labels does not say).
fn debug_position(err: &protox::Error) -> Option<(usize, usize)> {
    let debug = format!("{err:?}");
    let rest = debug.strip_prefix(err.file()?)?.strip_prefix(':')?;
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let col = parts.next()?.parse().ok()?;
    Some((line, col))
}

/// A label resolved against the file's text.
struct Mark {
    /// 1-based line and column (in bytes, as protox counts).
    line: usize,
    col: usize,
    /// The byte offsets of the label within `text`, the end clamped to its line.
    start: usize,
    end: usize,
    /// The byte range of the whole line (without its line break).
    line_start: usize,
    line_end: usize,
    message: Option<String>,
    /// The label says it is the error's main one.
    primary: bool,
}

fn mark(text: &str, label: &LabeledSpan) -> Option<Mark> {
    let (offset, len) = (label.offset(), label.len());
    if offset > text.len() || !text.is_char_boundary(offset) {
        return None;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line_end = if text[..line_end].ends_with('\r') { line_end - 1 } else { line_end };
    let mut end = (offset + len).min(line_end.max(offset));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(Mark {
        line: text[..offset].matches('\n').count() + 1,
        col: offset - line_start + 1,
        start: offset,
        end,
        line_start,
        line_end,
        message: label.label().map(str::to_owned),
        primary: label.primary(),
    })
}

/// One error: the heading `path:LINE:COL: message`, then each label's line
/// with a caret (or `^^^` under the whole span) and the label's words, then
/// the diagnostic's help.
fn block(
    out: &mut String,
    path: Option<&Path>,
    text: Option<&str>,
    diag: &dyn Diagnostic,
    message: &str,
    hint: Option<(usize, usize)>,
) {
    let mut marks: Vec<Mark> = match (text, diag.labels()) {
        (Some(text), Some(labels)) => labels.filter_map(|l| mark(text, &l)).collect(),
        _ => Vec::new(),
    };
    marks.sort_by_key(|m| m.start);
    // The error's own spot: where protox says it is, else a label marked
    // primary, else the last one (a duplicate's second definition).
    let primary = hint
        .and_then(|(line, col)| marks.iter().find(|m| (m.line, m.col) == (line, col)))
        .or_else(|| marks.iter().find(|m| m.primary))
        .or(marks.last());
    let position = primary.map(|m| (m.line, m.col)).or(hint);
    match (path, position) {
        (Some(p), Some((line, col))) => {
            let _ = writeln!(out, "{}:{line}:{col}: {message}", p.display());
        }
        (Some(p), None) => {
            let _ = writeln!(out, "{}: {message}", p.display());
        }
        (None, _) => {
            let _ = writeln!(out, "{message}");
        }
    }
    let width = marks.iter().map(|m| m.line.to_string().len()).max().unwrap_or(1);
    if let (Some(text), false) = (text, marks.is_empty()) {
        let _ = writeln!(out, "{:width$} |", "");
        let mut shown_line = 0;
        for m in &marks {
            if m.line != shown_line {
                let _ = writeln!(out, "{:>width$} | {}", m.line, &text[m.line_start..m.line_end]);
                shown_line = m.line;
            }
            // Tabs stay tabs so the caret lines up under them.
            let pad: String =
                text[m.line_start..m.start].chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            let carets = "^".repeat(text[m.start..m.end].chars().count().max(1));
            let line = format!("{:width$} | {pad}{carets} {}", "", m.message.as_deref().unwrap_or(""));
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    if let Some(help) = diag.help() {
        let _ = writeln!(out, "{:width$} = help: {help}", "");
    }
}
