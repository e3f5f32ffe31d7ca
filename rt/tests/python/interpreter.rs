//! The Python interpreter the grpcio peer tests run: `WEIR_PYTHON`, or the
//! repository's `.venv` made by `scripts/setup-python.sh`. Shared by the
//! Python tests of several crates (`#[path]`), each one directory below the
//! repository root.

use std::path::PathBuf;

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("WEIR_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(venv.exists(), "Python peer missing: run scripts/setup-python.sh (or set WEIR_PYTHON)");
    venv
}
