//! Waiting for the process to be asked to stop.

/// Completes when the process is asked to stop: SIGINT (Ctrl-C) or SIGTERM
/// (what `kill`, systemd and Kubernetes send). Pass it to
/// `serve_with_shutdown` so a stopped server finishes its calls:
///
/// ```no_run
/// # async fn run(server: weir_smol::Server) -> std::io::Result<()> {
/// server.serve_with_shutdown("127.0.0.1:50051".parse().unwrap(), weir_smol::shutdown_signal()).await
/// # }
/// ```
#[cfg(unix)]
pub async fn shutdown_signal() {
    use async_signal::{Signal, Signals};
    use smol::stream::StreamExt;
    match Signals::new([Signal::Term, Signal::Int]) {
        Ok(mut signals) => {
            let _ = signals.next().await;
        }
        // The handlers could not be installed: nothing will ever ask.
        Err(_) => std::future::pending().await,
    }
}
