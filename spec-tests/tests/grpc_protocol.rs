//! gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md) conformance of the core's
//! gRPC layer, in both roles: the suite writes raw frames to a
//! `weir_core::grpc::Server` or plays the server for a `weir_core::grpc::Client`.

use weir_spec_tests::registry::{self, Section};

mod grpc_protocol {
    pub mod common;
    pub mod errors;
    pub mod messages;
    pub mod metadata;
    pub mod requests;
    pub mod responses;
    pub mod timeout;
}

/// A section of this binary: its registry and its source.
macro_rules! section {
    ($m:ident, $title:literal) => {
        Section {
            title: $title,
            cases: grpc_protocol::$m::CASES,
            server_cases: grpc_protocol::$m::SERVER_CASES,
            source: include_str!(concat!("grpc_protocol/", stringify!($m), ".rs")),
        }
    };
}

/// Prints the cases per section and checks every registry against its source.
#[test]
fn zz_summary() {
    let sections = [
        section!(requests, "Requests (Call-Definition, EOS)"),
        section!(metadata, "Custom-Metadata"),
        section!(timeout, "Timeout, deadlines"),
        section!(messages, "Length-Prefixed-Message, DATA frames"),
        section!(responses, "Responses, Status, early closure"),
        section!(errors, "Errors, cancellation, GOAWAY"),
    ];
    let (cases, h2spec, _) = registry::summarize("gRPC PROTOCOL-HTTP2", &sections);
    assert_eq!(h2spec, 0);
    assert!(cases >= 40, "{cases}");
}
