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
/// The handlers are installed when this is called, not when the future is
/// first polled: a signal that arrives in between (a server that printed
/// its address and is about to serve) is not lost, nor does it kill the
/// process by its default action. Call it inside the tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        // Without handlers (they could not be installed), Ctrl-C alone.
        signal(SignalKind::terminate()).ok().zip(signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = handlers {
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
