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
///
/// Called inside the tokio runtime, it installs the handlers at once, not
/// when the future is first polled: a signal that arrives in between (a
/// server that printed its address and is about to serve) is then not lost,
/// nor does it kill the process by its default action. Called outside, it
/// installs them at the first poll.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let early = tokio::runtime::Handle::try_current().ok().map(|_| handlers());
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = early.unwrap_or_else(handlers) {
            std::future::poll_fn(|cx| {
                if term.poll_recv(cx).is_ready() || int.poll_recv(cx).is_ready() {
                    return std::task::Poll::Ready(());
                }
                std::task::Poll::Pending
            })
            .await;
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGTERM and SIGINT handlers; `None` when they cannot be installed (then
/// Ctrl-C alone is watched).
#[cfg(unix)]
fn handlers() -> Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::terminate()).ok().zip(signal(SignalKind::interrupt()).ok())
}
