//! # weir-spec-tests
//!
//! The conformance harness of Weir: the core checked against the
//! specifications case by case, the way h2spec checks servers, in both roles.
//!
//! * [`frames`]: a raw frame writer (no validation: illegal sequences are the point);
//! * [`target`]: what is under test, seen through the wire only — [`Target`],
//!   [`ServerTarget`] (in-memory core or TCP) and [`InMemoryClient`];
//! * [`conn`]: [`H2Conn`], the suite's end of a connection, with h2spec's
//!   handshake, header helpers and `Verify*` checks;
//! * [`registry`]: per-section case lists checked against the sources.
//!
//! Server cases are generic functions `fn case<T: ServerTarget>(c: &mut H2Conn<T>)`,
//! registered with [`cases!`], which instantiates each as a `#[test]` running it
//! against the in-memory server (and a TCP server when one is configured,
//! see [`target::tcp_target_addr`]). Client-role cases are ordinary tests
//! driving an [`InMemoryClient`].

pub mod conn;
pub mod frames;
pub mod registry;
pub mod target;

pub use conn::{Fields, H2Conn, Received, fields};
pub use target::{
    InMemoryClient, InMemoryConnection, InMemoryGrpcClient, InMemoryServer, ServerTarget, Target, TcpServer,
};

/// Everything a section module needs.
pub mod prelude {
    pub use crate::conn::{
        DEFAULT_WINDOW_SIZE, DUMMY_HEADER_LEN, Fields, H2Conn, Received, fields, header_fields,
    };
    pub use crate::frames::{self, HeadersParam, Priority, flag, kind, setting};
    pub use crate::target::{
        InMemoryClient, InMemoryConnection, InMemoryGrpcClient, InMemoryServer, ServerTarget, Target,
        TcpServer,
    };
    pub use weir_core::ErrorCode;
    pub use weir_core::conn::{Config, Event, HeadersKind, Initiator, LocalResetCause};
    pub use weir_core::frame::{Frame, StreamId};
    pub use weir_core::headers::{Headers, Malformed};
}

/// Runs one server case against every configured server: the in-memory core
/// always, and the TCP server named by [`target::tcp_target_addr`] if any.
pub fn run_server_case(in_memory: fn(&mut H2Conn<InMemoryServer>), tcp: fn(&mut H2Conn<TcpServer>)) {
    in_memory(&mut H2Conn::new(InMemoryServer::new()));
    if let Some(addr) = target::tcp_target_addr() {
        let server = TcpServer::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        tcp(&mut H2Conn::new(server));
    }
}

/// Registers a section's cases: `cases! { server: [..], client: [..] }`.
///
/// Defines `CASES` (all names, server first) and `SERVER_CASES`, and one
/// `#[test]` per server case (in a module `server`) that runs it through
/// [`run_server_case`]. Client cases are `#[test]` functions already; naming
/// them here makes the registry complete (and fails to compile on a typo).
#[macro_export]
macro_rules! cases {
    (server: [$($s:ident),* $(,)?], client: [$($c:ident),* $(,)?] $(,)?) => {
        /// Every case of this section: server role first, then client role.
        pub const CASES: &[&str] = &[$(stringify!($s),)* $(stringify!($c),)*];
        /// The server-role cases (run against every server target).
        pub const SERVER_CASES: &[&str] = &[$(stringify!($s),)*];
        #[allow(dead_code)]
        const CLIENT_CASES: &[fn()] = &[$($c,)*];

        mod server {
            $(
                #[test]
                fn $s() {
                    $crate::run_server_case(super::$s::<$crate::InMemoryServer>, super::$s::<$crate::TcpServer>);
                }
            )*
        }

        /// Runs every server case of the section against `connect`ed
        /// targets; returns the names of the cases that failed.
        #[allow(dead_code)]
        pub fn run_server_cases<T: $crate::ServerTarget>(connect: &dyn Fn() -> T) -> Vec<&'static str> {
            let mut failed = Vec::new();
            let _ = connect;
            $(
                let run = || $s::<T>(&mut $crate::H2Conn::new(connect()));
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    failed.push(stringify!($s));
                }
            )*
            failed
        }
    };
}
