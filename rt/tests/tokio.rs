//! The shared integration suite on tokio.

mod suite;

use std::time::Duration;

use weir_tokio::Tokio;

/// Runs one scenario on a two-worker tokio runtime, bounded in time.
fn run<F: std::future::Future<Output = ()>>(scenario: F) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), scenario).await.expect("scenario timed out");
    });
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(suite::$name(Tokio));
            }
        )*
    };
}

scenarios!(
    all_kinds_over_tcp,
    all_kinds_over_tls,
    mutual_tls,
    alpn_mismatch_is_an_error,
    all_kinds_over_unix_socket,
    thousand_concurrent_unary_calls,
    large_streams_both_ways,
    deadline_exceeded,
    client_cancel_reaches_the_handler,
    graceful_shutdown_finishes_in_flight_calls,
    reconnect_after_server_restart,
    interceptor_rejects_and_wraps,
    metadata_and_status_details_round_trip,
    panicking_handler_fails_only_its_call,
);
