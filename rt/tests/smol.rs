//! The shared integration suite on smol.

mod suite;

suite::scenario_tests!(suite::runners::run_on_smol);
