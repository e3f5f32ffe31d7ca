//! # weir-rt
//!
//! The runtime-agnostic async layer of Weir: one connection driver per
//! connection (reads into the Sans-IO core, writes what it produces with one
//! vectored write per batch, arms one timer), the gRPC [`Server`] with its
//! router and interceptors, and the client [`Channel`]. Adapter crates
//! (`weir-tokio`, `weir-smol`) provide only sockets, TLS handshakes, timers and
//! spawning, through the traits in [`runtime`].

pub mod adapter;
mod batch;
mod budget;
mod buf_pool;
mod call;
pub mod client;
pub mod codec;
mod extensions;
mod http1_io;
mod include_proto;
pub mod interceptor;
pub mod memory;
mod queue;
pub mod request;
pub mod runtime;
pub mod server;
pub mod stats;
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod trace;
mod transport;
mod util;

pub use client::{Backoff, Channel, ConnectivityState, Endpoint, ServiceConfig};
pub use codec::{Codec, ProstCodec};
pub use interceptor::Interceptor;
pub use request::{
    CallInfo, Cancellation, Extensions, IntoRequest, IntoStreamingRequest, OutMessage, Request, RequestHead,
    Response, Streaming,
};
pub use server::{BoundServer, GrpcWeb, Method, Router, Server, Service};
pub use stats::{CallCounters, StatsHandler};
pub use tcp::TcpOptions;
pub use weir_core::grpc::{Code, Metadata, MetadataError, Status};

/// Re-exports for generated code.
#[doc(hidden)]
pub mod codegen {
    pub use bytes::Bytes;
    pub use futures_core::Stream;
    pub use prost;
}
