//! Replays every committed corpus file (`fuzz/corpus/<target>/*`) and every
//! saved crash (`fuzz/artifacts/<target>/*`, normally git-ignored) through
//! its target, so `cargo test --workspace` runs them all on stable.

use std::path::{Path, PathBuf};

use weir_fuzz_targets::{TARGETS, target};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files of `dir/<target>/`, by target, sorted.
fn inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(dir) else {
        return out;
    };
    for t in targets.flatten() {
        let name = t.file_name().to_string_lossy().into_owned();
        let Ok(files) = std::fs::read_dir(t.path()) else { continue };
        for f in files.flatten() {
            if f.path().is_file() {
                out.push((name.clone(), f.path()));
            }
        }
    }
    out.sort();
    out
}

/// Runs each input; on a panic, names the file (the panic message follows).
fn replay(list: &[(String, PathBuf)]) -> usize {
    for (name, path) in list {
        let t = target(name).unwrap_or_else(|| panic!("{}: no target named {name}", path.display()));
        let data = std::fs::read(path).expect("readable corpus file");
        eprintln!("replaying {}", path.display());
        (t.run)(&data);
    }
    list.len()
}

#[test]
fn every_target_has_a_committed_corpus() {
    let all = inputs(&fuzz_dir().join("corpus"));
    for t in TARGETS {
        let n = all.iter().filter(|(name, _)| name == t.name).count();
        assert!(n > 0, "fuzz/corpus/{} is empty", t.name);
    }
}

#[test]
fn committed_corpus_replays() {
    let all = inputs(&fuzz_dir().join("corpus"));
    let n = replay(&all);
    println!("replayed {n} corpus inputs");
    assert!(n >= TARGETS.len());
}

#[test]
fn saved_artifacts_replay() {
    // Crash files libFuzzer left behind (fuzz/artifacts is git-ignored; in a
    // fresh clone there are none). Once the bug is fixed they pass; a
    // reproducer worth keeping is copied into fuzz/corpus/<target>/.
    let all = inputs(&fuzz_dir().join("artifacts"));
    let n = replay(&all);
    println!("replayed {n} artifacts");
}
