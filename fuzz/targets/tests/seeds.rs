//! The seed generator's output runs clean through every target.

use weir_fuzz_targets::{seeds, target};

#[test]
fn generated_seeds_run_clean() {
    let all = seeds::all();
    for seed in &all {
        let t = target(seed.target).expect("a known target");
        (t.run)(&seed.data);
    }
    for t in weir_fuzz_targets::TARGETS {
        assert!(all.iter().any(|s| s.target == t.name), "no seed for {}", t.name);
    }
    let total: usize = all.iter().map(|s| s.data.len()).sum();
    assert!(total < 300 << 10, "seeds take {total} octets");
}
