//! Runs a scenario on each runtime, within 30 s.

use std::future::Future;
use std::time::Duration;

/// On a two-worker tokio runtime.
pub fn on_tokio<F: Future<Output = ()>>(f: impl FnOnce(weir_tokio::Tokio) -> F) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), f(weir_tokio::Tokio)).await })
        .expect("test timed out");
}

/// On smol's global executor.
pub fn on_smol<F: Future<Output = ()>>(f: impl FnOnce(weir_smol::Smol) -> F) {
    smol::block_on(async {
        let timeout = async {
            smol::Timer::after(Duration::from_secs(30)).await;
            panic!("test timed out");
        };
        smol::future::race(f(weir_smol::Smol::default()), timeout).await
    });
}
