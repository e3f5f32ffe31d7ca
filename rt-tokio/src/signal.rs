//! Waiting for the process to be asked to stop.

/// Completes when the process is asked to stop: SIGINT (Ctrl-C) or SIGTERM
/// (what `kill`, systemd and Kubernetes send) on Unix, Ctrl-C elsewhere.
/// Pass it to `serve_with_shutdown` so a stopped server finishes its calls:
///
/// ```no_run
/// # async fn run(server: weir_tokio::Server) -> std::io::Result<()> {
/// server.serve_with_shutdown("127.0.0.1:50051".parse().unwrap(), weir_tokio::shutdown_signal()).await
/// # }
/// ```
pub async fn shutdown_signal() {
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    #[cfg(unix)]
    {
        use std::future::Future;
        use std::task::Poll;
        use tokio::signal::unix::{SignalKind, signal};
        // Without a SIGTERM handler (it could not be installed), Ctrl-C alone.
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            std::future::poll_fn(|cx| {
                if ctrl_c.as_mut().poll(cx).is_ready() || term.poll_recv(cx).is_ready() {
                    return Poll::Ready(());
                }
                Poll::Pending
            })
            .await;
            return;
        }
    }
    let _ = ctrl_c.await;
}
