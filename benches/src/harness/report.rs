//! The results table: one row per measurement, Weir beside tonic.

use std::fmt::Write;

/// Whether a bigger or a smaller number wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Throughput: bigger wins; the ratio is Weir / tonic.
    Higher,
    /// Latency and memory: smaller wins; the ratio is still Weir / tonic.
    Lower,
}

/// One measurement of both stacks.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario (load shape, server threads).
    pub scenario: String,
    /// What was measured, with its unit.
    pub metric: String,
    /// Weir's figure.
    pub weir: f64,
    /// tonic's figure.
    pub tonic: f64,
    /// Which direction wins.
    pub better: Better,
}

impl Row {
    /// Weir / tonic.
    pub fn ratio(&self) -> f64 {
        if self.tonic == 0.0 { f64::NAN } else { self.weir / self.tonic }
    }

    /// True when Weir's figure is the better one.
    pub fn weir_wins(&self) -> bool {
        match self.better {
            Better::Higher => self.weir > self.tonic,
            Better::Lower => self.weir < self.tonic,
        }
    }
}

fn number(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scenario | metric | Weir | tonic | Weir / tonic | better |\n|---|---|---:|---:|---:|---|\n",
    );
    for r in rows {
        let dir = match r.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        let mark = if r.weir_wins() { "" } else { " (tonic)" };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2}× | {dir}{mark} |",
            r.scenario,
            r.metric,
            number(r.weir),
            number(r.tonic),
            r.ratio()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_ratio_and_winner() {
        let rows = [
            Row {
                scenario: "a".into(),
                metric: "req/s".into(),
                weir: 300.0,
                tonic: 150.0,
                better: Better::Higher,
            },
            Row {
                scenario: "a".into(),
                metric: "p99 µs".into(),
                weir: 90.0,
                tonic: 45.0,
                better: Better::Lower,
            },
        ];
        let t = table(&rows);
        assert!(t.contains("| a | req/s | 300 | 150 | 2.00× | higher |"), "{t}");
        assert!(t.contains("| a | p99 µs | 90.00 | 45.00 | 2.00× | lower (tonic) |"), "{t}");
    }
}
