//! RFC 9113 conformance, section by section: every case of h2spec's `generic`
//! and `http2` groups against the server (in memory, and over TCP when
//! `WEIR_SPEC_TCP_SERVER` names one), plus the same rules enforced by a client
//! connection (cases named `client_*`).

use weir_spec_tests::registry::{self, Section};
use weir_spec_tests::target::LoopbackServer;
use weir_spec_tests::{InMemoryServer, ServerTarget, TcpServer};

mod servers;

mod rfc9113 {
    pub mod s3_4_preface;
    pub mod s4_1_frame_format;
    pub mod s4_2_frame_size;
    pub mod s4_3_field_compression;
    pub mod s5_1_1_stream_ids;
    pub mod s5_1_2_concurrency;
    pub mod s5_1_stream_states;
    pub mod s5_3_priority;
    pub mod s5_4_error_handling;
    pub mod s5_5_extending;
    pub mod s6_10_continuation;
    pub mod s6_1_data;
    pub mod s6_2_headers;
    pub mod s6_3_priority;
    pub mod s6_4_rst_stream;
    pub mod s6_5_settings;
    pub mod s6_6_push_promise;
    pub mod s6_7_ping;
    pub mod s6_8_goaway;
    pub mod s6_9_window_update;
    pub mod s7_error_codes;
    pub mod s8_1_http_message;
    pub mod s8_2_fields;
    pub mod s8_3_pseudo_headers;
    pub mod s8_4_server_push;
}

/// A section of this binary: its registry and its source.
macro_rules! section {
    ($m:ident, $title:literal) => {
        Section {
            title: $title,
            cases: rfc9113::$m::CASES,
            server_cases: rfc9113::$m::SERVER_CASES,
            source: include_str!(concat!("rfc9113/", stringify!($m), ".rs")),
        }
    };
}

/// Prints the cases per section and checks every registry against its source.
#[test]
fn zz_summary() {
    let sections = [
        section!(s3_4_preface, "3.4 HTTP/2 Connection Preface"),
        section!(s4_1_frame_format, "4.1 Frame Format"),
        section!(s4_2_frame_size, "4.2 Frame Size"),
        section!(s4_3_field_compression, "4.3 Field Section Compression"),
        section!(s5_1_stream_states, "5.1 Stream States"),
        section!(s5_1_1_stream_ids, "5.1.1 Stream Identifiers"),
        section!(s5_1_2_concurrency, "5.1.2 Stream Concurrency"),
        section!(s5_3_priority, "5.3 Prioritization"),
        section!(s5_4_error_handling, "5.4 Error Handling"),
        section!(s5_5_extending, "5.5 Extending HTTP/2"),
        section!(s6_1_data, "6.1 DATA"),
        section!(s6_2_headers, "6.2 HEADERS"),
        section!(s6_3_priority, "6.3 PRIORITY"),
        section!(s6_4_rst_stream, "6.4 RST_STREAM"),
        section!(s6_5_settings, "6.5 SETTINGS"),
        section!(s6_6_push_promise, "6.6 PUSH_PROMISE"),
        section!(s6_7_ping, "6.7 PING"),
        section!(s6_8_goaway, "6.8 GOAWAY"),
        section!(s6_9_window_update, "6.9 WINDOW_UPDATE"),
        section!(s6_10_continuation, "6.10 CONTINUATION"),
        section!(s7_error_codes, "7 Error Codes"),
        section!(s8_1_http_message, "8.1 HTTP Message Framing"),
        section!(s8_2_fields, "8.2 HTTP Fields"),
        section!(s8_3_pseudo_headers, "8.3 HTTP Control Data"),
        section!(s8_4_server_push, "8.4 Server Push"),
    ];
    let (_cases, h2spec, extra) = registry::summarize("RFC 9113", &sections);
    assert_eq!((h2spec, extra), (123, 3), "h2spec cases covered: v2.6.0 default run, strict/master extras");
}

/// Every server case of every section against `connect`ed targets: the
/// failed cases, as `section::case`.
fn failures<T: ServerTarget>(connect: &dyn Fn() -> T) -> Vec<String> {
    let runs = [
        (
            "s3_4_preface",
            rfc9113::s3_4_preface::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s4_1_frame_format",
            rfc9113::s4_1_frame_format::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s4_2_frame_size",
            rfc9113::s4_2_frame_size::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s4_3_field_compression",
            rfc9113::s4_3_field_compression::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_1_stream_states",
            rfc9113::s5_1_stream_states::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_1_1_stream_ids",
            rfc9113::s5_1_1_stream_ids::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_1_2_concurrency",
            rfc9113::s5_1_2_concurrency::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_3_priority",
            rfc9113::s5_3_priority::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_4_error_handling",
            rfc9113::s5_4_error_handling::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s5_5_extending",
            rfc9113::s5_5_extending::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        ("s6_1_data", rfc9113::s6_1_data::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>),
        (
            "s6_2_headers",
            rfc9113::s6_2_headers::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_3_priority",
            rfc9113::s6_3_priority::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_4_rst_stream",
            rfc9113::s6_4_rst_stream::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_5_settings",
            rfc9113::s6_5_settings::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_6_push_promise",
            rfc9113::s6_6_push_promise::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        ("s6_7_ping", rfc9113::s6_7_ping::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>),
        (
            "s6_8_goaway",
            rfc9113::s6_8_goaway::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_9_window_update",
            rfc9113::s6_9_window_update::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s6_10_continuation",
            rfc9113::s6_10_continuation::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s7_error_codes",
            rfc9113::s7_error_codes::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s8_1_http_message",
            rfc9113::s8_1_http_message::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s8_2_fields",
            rfc9113::s8_2_fields::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s8_3_pseudo_headers",
            rfc9113::s8_3_pseudo_headers::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
        (
            "s8_4_server_push",
            rfc9113::s8_4_server_push::run_server_cases::<T> as fn(&dyn Fn() -> T) -> Vec<&'static str>,
        ),
    ];
    runs.iter().flat_map(|(m, run)| run(connect).into_iter().map(move |c| format!("{m}::{c}"))).collect()
}

/// The TCP target against a plain TCP server around the same core: every
/// server case must reach the same verdict over a socket as in memory, so a
/// case that fails against the tokio server (`WEIR_SPEC_TCP_SERVER`) fails
/// because of the server, not the target.
#[test]
fn zz_tcp_target_agrees_with_in_memory() {
    let server = LoopbackServer::start().expect("bind 127.0.0.1");
    let tcp = failures(&|| {
        let mut t = TcpServer::connect(server.addr).expect("connect");
        t.timeout = std::time::Duration::from_secs(1);
        t
    });
    let in_memory = failures(&InMemoryServer::new);
    assert_eq!(tcp, in_memory, "verdicts over TCP vs in memory");
}

/// Every server case over TCP against the real tokio server (`weir-tokio`,
/// started in-process on its own runtime thread) must reach the same verdict
/// as against the in-memory core: all pass. `WEIR_SPEC_TCP_SERVER` points the
/// same run at any other server.
#[test]
fn zz_tokio_server_passes_every_case() {
    let addr = match weir_spec_tests::target::tcp_target_addr() {
        Some(addr) => addr,
        None => servers::start(),
    };
    let tcp = failures(&|| {
        let mut t = TcpServer::connect(addr).expect("connect");
        t.timeout = std::time::Duration::from_secs(1);
        t
    });
    assert!(tcp.is_empty(), "server cases failing against the tokio server at {addr}: {tcp:?}");
}

/// Every server case over TCP against weir-core driven by a mio event loop
/// with no async runtime (`embed-mio`): all pass, as in memory. The count
/// of connections made is the count of cases run: h2spec's `generic` and
/// `http2` groups (123 of its 146, the other 23 in `rfc7541.rs`) and the
/// 3 of strict mode and master.
#[test]
fn zz_mio_server_passes_every_case() {
    let addr = servers::start_mio();
    let cases = std::sync::atomic::AtomicUsize::new(0);
    let tcp = failures(&|| {
        cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut t = TcpServer::connect(addr).expect("connect");
        t.timeout = std::time::Duration::from_secs(1);
        t
    });
    assert!(tcp.is_empty(), "server cases failing against the mio server at {addr}: {tcp:?}");
    // h2spec's 123 of this file, and the 3 of strict mode and master.
    assert_eq!(cases.into_inner(), 126, "server cases run");
}

/// Every server case against the tokio server with gRPC-Web on, where
/// HTTP/1.1 shares the port: each connection's first octets choose the
/// driver, and HTTP/2 keeps every verdict (h2spec's 146 included).
#[test]
fn zz_tokio_server_with_grpc_web_passes_every_case() {
    let addr = servers::start_with_grpc_web();
    let tcp = failures(&|| {
        let mut t = TcpServer::connect(addr).expect("connect");
        t.timeout = std::time::Duration::from_secs(1);
        t
    });
    assert!(tcp.is_empty(), "server cases failing on a port shared with gRPC-Web at {addr}: {tcp:?}");
}
