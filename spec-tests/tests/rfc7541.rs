//! RFC 7541 (HPACK) conformance: h2spec's `hpack` group and the HPACK cases
//! of its `generic` group against the server (in memory, and over TCP when
//! `WEIR_SPEC_TCP_SERVER` names one), the same rules enforced by a client
//! connection, and the Appendix C examples and hpack-test-case corpus run
//! through whole connections (the bare decoder runs them in core's tests).

use weir_spec_tests::registry::{self, Section};

/// Shadows `env!` for the shared loader: core's `tests/hpack_support` finds
/// its data under `env!("CARGO_MANIFEST_DIR")/tests/data`, which for this
/// crate is core's directory, one level up.
macro_rules! env {
    ("CARGO_MANIFEST_DIR") => {
        concat!(::core::env!("CARGO_MANIFEST_DIR"), "/../core")
    };
}

/// The corpus and Appendix C loader of core's HPACK tests, shared as is.
#[path = "../../core/tests/hpack_support/mod.rs"]
mod hpack_support;

mod servers;

mod rfc7541 {
    pub mod common;
    pub mod connection_corpus;
    pub mod s2_3_indexing_tables;
    pub mod s4_2_table_size;
    pub mod s5_2_string_literals;
    pub mod s6_1_indexed;
    pub mod s6_2_literals;
    pub mod s6_3_size_update;
}

/// A section of this binary: its registry and its source.
macro_rules! section {
    ($m:ident, $title:literal) => {
        Section {
            title: $title,
            cases: rfc7541::$m::CASES,
            server_cases: rfc7541::$m::SERVER_CASES,
            source: include_str!(concat!("rfc7541/", stringify!($m), ".rs")),
        }
    };
}

/// Prints the cases per section and checks every registry against its source.
#[test]
fn zz_summary() {
    let sections = [
        section!(s2_3_indexing_tables, "2.3.3 Index Address Space"),
        section!(s4_2_table_size, "4.2 Maximum Table Size"),
        section!(s5_2_string_literals, "5.2 String Literal Representation"),
        section!(s6_1_indexed, "6.1 Indexed Header Field"),
        section!(s6_2_literals, "6.2 Literal Header Field"),
        section!(s6_3_size_update, "6.3 Dynamic Table Size Update"),
        section!(connection_corpus, "App. C + corpus through a connection"),
    ];
    let (_cases, h2spec, extra) = registry::summarize("RFC 7541", &sections);
    assert_eq!((h2spec, extra), (23, 0), "h2spec hpack/* (8) and generic/5/* (15)");
}

/// h2spec's HPACK cases over TCP against the real tokio server (started
/// in-process, or `WEIR_SPEC_TCP_SERVER`): every one passes.
#[test]
fn zz_tokio_server_passes_every_case() {
    let addr = weir_spec_tests::target::tcp_target_addr().unwrap_or_else(servers::start);
    assert_eq!(hpack_cases_pass_against(addr), 23, "cases run");
}

/// The same cases against a server with gRPC-Web on (HTTP/1.1 sharing the
/// port): the HTTP/2 side is unchanged.
#[test]
fn zz_tokio_server_with_grpc_web_passes_every_case() {
    assert_eq!(hpack_cases_pass_against(servers::start_with_grpc_web()), 23, "cases run");
}

/// The same cases against weir-core driven by a mio event loop with no
/// async runtime (`embed-mio`): h2spec's other 23 of 146 (the 123 are in
/// `rfc9113.rs`).
#[test]
fn zz_mio_server_passes_every_case() {
    assert_eq!(hpack_cases_pass_against(servers::start_mio()), 23, "cases run");
}

/// Runs every HPACK server case against `addr`; returns how many ran.
fn hpack_cases_pass_against(addr: std::net::SocketAddr) -> usize {
    use weir_spec_tests::TcpServer;
    let cases = std::cell::Cell::new(0);
    let connect = || {
        cases.set(cases.get() + 1);
        let mut t = TcpServer::connect(addr).expect("connect");
        t.timeout = std::time::Duration::from_secs(1);
        t
    };
    let mut failed = Vec::new();
    failed.extend(rfc7541::s2_3_indexing_tables::run_server_cases::<TcpServer>(&connect));
    failed.extend(rfc7541::s4_2_table_size::run_server_cases::<TcpServer>(&connect));
    failed.extend(rfc7541::s5_2_string_literals::run_server_cases::<TcpServer>(&connect));
    failed.extend(rfc7541::s6_1_indexed::run_server_cases::<TcpServer>(&connect));
    failed.extend(rfc7541::s6_2_literals::run_server_cases::<TcpServer>(&connect));
    failed.extend(rfc7541::s6_3_size_update::run_server_cases::<TcpServer>(&connect));
    assert!(failed.is_empty(), "HPACK cases failing against the server at {addr}: {failed:?}");
    cases.get()
}
