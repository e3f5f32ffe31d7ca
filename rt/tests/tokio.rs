//! The shared integration suite on tokio.

mod suite;

suite::scenario_tests!(suite::runners::run_on_tokio);
