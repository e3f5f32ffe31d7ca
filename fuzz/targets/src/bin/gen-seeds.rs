//! Writes the generated seed corpora to `fuzz/corpus/<target>/seed-<name>`
//! (existing files of the same name are replaced; others are kept).
//!
//! `cargo run -p weir-fuzz-targets --bin gen-seeds`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let seeds = weir_fuzz_targets::seeds::all();
    let mut total = 0;
    for seed in &seeds {
        let dir = root.join(seed.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{}", seed.name)), &seed.data)?;
        total += seed.data.len();
    }
    println!("wrote {} seeds ({} octets) under {}", seeds.len(), total, root.display());
    Ok(())
}
