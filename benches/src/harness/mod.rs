//! The end-to-end harness behind `benches/run.sh`: starts each stack's bench
//! server, drives it with h2load and with each stack's own client, probes
//! memory, and renders the results as the BENCHMARKS.md table.

pub mod grpc_web;
pub mod h2load;
pub mod process;
pub mod report;

/// One `key=value key=value` line, as `bench-client` and `mem-probe` print.
pub fn parse_kv(line: &str) -> std::collections::HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The value at fraction `p` (0..=1) of an ascending slice.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_lines_parse() {
        let m = parse_kv("impl=weir rps=123 p99_us=40 junk");
        assert_eq!(m["impl"], "weir");
        assert_eq!(m["rps"], "123");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn percentiles_pick_by_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 51);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
