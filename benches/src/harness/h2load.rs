//! Driving a server with h2load (nghttp2) and reading its results.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{percentile, process};

/// The framed gRPC request body for `SayHello { name: "world" }`.
pub const SAY_HELLO_BODY: &[u8] = b"\x00\x00\x00\x00\x07\x0a\x05world";

/// The same call as a binary gRPC-Web body (`application/grpc-web+proto`):
/// gRPC-Web frames a request message exactly as gRPC does.
pub const GRPC_WEB_SAY_HELLO_BODY: &[u8] = SAY_HELLO_BODY;

/// One h2load run's load shape.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Connections (`-c`).
    pub connections: u32,
    /// Concurrent streams per connection (`-m`).
    pub streams: u32,
    /// Measured seconds (`-D`), after one second of warm-up.
    pub seconds: u32,
}

/// What h2load measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Requests per second.
    pub rps: f64,
    /// Requests that completed with a 2xx status.
    pub succeeded: u64,
    /// Requests that failed or errored.
    pub failed: u64,
    /// Responses with a 2xx status (h2load's `status codes:` line).
    pub status_2xx: u64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Mean latency, µs (with a fixed number of streams in flight, their
    /// number over the request rate: Little's law).
    pub mean_us: u64,
}

/// Runs h2load against `url` (a gRPC method) with `body` as each request.
pub fn run(url: &str, body: &Path, load: Load, log: &Path) -> Result<Outcome, String> {
    let mut cmd = Command::new("h2load");
    cmd.args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
    finish(cmd, url, body, load, log)
}

/// Runs `h2load --h1` against `url` (a gRPC method) with `body` (a binary
/// gRPC-Web request) as each request: gRPC-Web over HTTP/1.1 on keep-alive
/// connections. HTTP/1.1 has no multiplexing, so `load.streams` above 1
/// would pipeline; the bench keeps it at 1.
pub fn run_grpc_web_h1(url: &str, body: &Path, load: Load, log: &Path) -> Result<Outcome, String> {
    let mut cmd = Command::new("h2load");
    cmd.arg("--h1").args(["-H", "content-type: application/grpc-web+proto", "-H", "x-grpc-web: 1"]);
    finish(cmd, url, body, load, log)
}

/// Adds the load shape, body, log and URL to an h2load command, runs it and
/// reads its summary and per-request latencies.
fn finish(mut cmd: Command, url: &str, body: &Path, load: Load, log: &Path) -> Result<Outcome, String> {
    cmd.args(["-c", &load.connections.to_string(), "-m", &load.streams.to_string()])
        .args(["-D", &load.seconds.to_string(), "--warm-up-time", "1"])
        .arg("-d")
        .arg(body)
        .arg("--log-file")
        .arg(log)
        .arg(url);
    let out = process::run(cmd, Duration::from_secs(u64::from(load.seconds) + 60))?;
    let mut o = parse_summary(&out).ok_or_else(|| format!("unexpected h2load output:\n{out}"))?;
    let mut lat = read_latencies(log)?;
    lat.sort_unstable();
    o.mean_us = lat.iter().sum::<u64>() / (lat.len() as u64).max(1);
    o.p50_us = percentile(&lat, 0.50);
    o.p99_us = percentile(&lat, 0.99);
    Ok(o)
}

/// Reads `finished in …, N req/s` and the `requests:` line.
pub fn parse_summary(out: &str) -> Option<Outcome> {
    let mut o = Outcome::default();
    let finished = out.lines().find(|l| l.starts_with("finished in "))?;
    let rps = finished.split(", ").find(|p| p.ends_with(" req/s"))?;
    o.rps = rps.trim_end_matches(" req/s").trim().parse().ok()?;
    let requests = out.lines().find(|l| l.starts_with("requests: "))?;
    let count = |what: &str| -> Option<u64> {
        requests.split(", ").find(|p| p.ends_with(what))?.split_whitespace().next()?.parse().ok()
    };
    o.succeeded = count(" succeeded")?;
    o.failed = count(" failed")? + count(" errored")?;
    let statuses = out.lines().find(|l| l.starts_with("status codes: "))?;
    o.status_2xx = statuses
        .trim_start_matches("status codes: ")
        .split(", ")
        .find(|p| p.ends_with(" 2xx"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(o)
}

/// Per-request durations (µs) from h2load's `--log-file` (tab-separated:
/// start time, status, duration).
pub fn read_latencies(log: &Path) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok(text.lines().filter_map(|l| l.split('\t').nth(2)?.trim().parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
finished in 5.00s, 181234.50 req/s, 8.93MB/s
requests: 906172 total, 906272 started, 906172 done, 906100 succeeded, 72 failed, 3 errored, 0 timeout
status codes: 906172 2xx, 0 3xx, 0 4xx, 0 5xx
";

    #[test]
    fn summary_parses() {
        let o = parse_summary(SAMPLE).unwrap();
        assert_eq!(o.rps, 181234.5);
        assert_eq!(o.succeeded, 906100);
        assert_eq!(o.failed, 75);
        assert_eq!(o.status_2xx, 906172);
        assert!(parse_summary("no output").is_none());
    }
}
