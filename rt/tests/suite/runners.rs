//! How a scenario runs on each runtime: with two threads driving tasks, and
//! bounded in time. A runner takes the scenario as a function of the runtime
//! handle, so one scenario list serves every runtime (`scenario_tests!`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use weir_smol::Smol;
use weir_tokio::Tokio;

/// Longest a scenario may take.
const LIMIT: Duration = Duration::from_secs(60);

/// On a two-worker tokio runtime.
pub fn run_on_tokio<F: Future<Output = ()>>(scenario: impl FnOnce(Tokio) -> F) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(LIMIT, scenario(Tokio)).await.expect("scenario timed out");
    });
}

/// On a smol executor of its own, run by the test thread and one more:
/// the scenario's runtime handle spawns there, while the handles it makes
/// with `Default` (`Endpoint::new`, `Server::builder`) spawn on smol's
/// global executor, so both kinds are exercised.
pub fn run_on_smol<F: Future<Output = ()>>(scenario: impl FnOnce(Smol) -> F) {
    let ex = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    std::thread::scope(|s| {
        // Dropped on return or panic, which ends the worker.
        let _stop = stop;
        s.spawn(|| smol::block_on(ex.run(stopped.recv())));
        let timeout = async {
            smol::Timer::after(LIMIT).await;
            panic!("scenario timed out");
        };
        smol::block_on(ex.run(smol::future::or(scenario(Smol::new(ex.clone())), timeout)));
    });
}
