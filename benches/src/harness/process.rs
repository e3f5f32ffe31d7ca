//! Child processes that stop when dropped, and waiting for a port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `cmd` and waits (up to 30 s) until `addr` accepts connections.
pub fn start_server(mut cmd: Command, addr: SocketAddr) -> Result<Guard, String> {
    let child =
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let mut guard = Guard(child);
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(guard);
        }
        if let Ok(Some(status)) = guard.0.try_wait() {
            return Err(format!("{cmd:?} exited with {status}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{cmd:?} not listening on {addr} after 30 s"))
}

/// Runs `cmd` to completion (killed after `limit`) and returns its stdout.
pub fn run(mut cmd: Command, limit: Duration) -> Result<String, String> {
    let child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(Ok(out)) => Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Ok(Err(e)) => Err(format!("{cmd:?}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            Err(format!("{cmd:?} did not finish within {limit:?}"))
        }
    }
}
