//! The shared integration suite on compio (io_uring), one thread.

mod suite;

suite::scenario_tests!(suite::runners::run_on_compio);
