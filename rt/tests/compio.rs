//! The shared integration suite on compio (io_uring), one thread.

mod suite;

use std::future::Future;
use std::time::{Duration, Instant};

use weir_compio::Compio;
use weir_rt::runtime::Runtime;

/// Longest a scenario may take (as the other runners).
const LIMIT: Duration = Duration::from_secs(60);

/// On a compio runtime (io_uring) on the test thread alone, as one core of
/// a thread-per-core server runs: every task of the scenario, its servers'
/// and its channels', runs on that thread.
fn run_on_compio<F: Future<Output = ()>>(scenario: impl FnOnce(Compio) -> F) {
    weir_compio::block_on(async {
        let timeout = async {
            Compio::default().sleep_until(Instant::now() + LIMIT).await;
            panic!("scenario timed out");
        };
        futures::pin_mut!(timeout);
        let scenario = scenario(Compio::default());
        futures::pin_mut!(scenario);
        futures::future::select(scenario, timeout).await;
    })
    .expect("a compio runtime");
}

suite::scenario_tests!(run_on_compio);
