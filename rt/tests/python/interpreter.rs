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

/// A grpcio server process (`SCRIPT server`, which prints `LISTENING <port>`
/// first), stopped when dropped. Unused by the crates that only run clients.
#[allow(dead_code)]
pub struct PythonServer {
    child: std::process::Child,
    pub port: u16,
}

#[allow(dead_code)]
impl PythonServer {
    pub fn start(script: &std::path::Path) -> Self {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(python())
            .arg(script)
            .arg("server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
        let port = line.trim().strip_prefix("LISTENING ").expect("port line").parse().expect("a port");
        PythonServer { child, port }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
