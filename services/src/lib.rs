//! # weir-services
//!
//! The standard gRPC services a production server carries, for Weir on any
//! runtime:
//!
//! - [`health`]: `grpc.health.v1.Health` (Check and Watch), with a
//!   [`health::HealthReporter`] to set each service's status at run time, and
//!   [`health::HealthClient`] for health-aware callers;
//! - [`reflection`]: `grpc.reflection.v1` and `grpc.reflection.v1alpha`
//!   (list services, file by filename, file containing a symbol), serving the
//!   descriptors `weir-build` writes with `file_descriptor_set_path`;
//! - [`channelz`]: `grpc.channelz.v1.Channelz` (servers, their sockets,
//!   channels and subchannels, with call counts and timestamps), fed by
//!   Weir's stats hook;
//! - [`admin`]: all three on a server in one call ([`admin::Admin`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use weir_services::health::{HealthReporter, ServingStatus};
//! let (reporter, health) = HealthReporter::new();
//! reporter.set("helloworld.Greeter", ServingStatus::Serving);
//! weir_tokio::Server::builder().add_service(health).serve("127.0.0.1:50051".parse().unwrap()).await
//! # }
//! ```

pub mod admin;
pub mod channelz;
pub mod health;
pub mod reflection;

/// Generated message and service types.
pub mod pb {
    /// `grpc.health.v1`.
    pub mod health_v1 {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/grpc.health.v1.rs"));
    }
    /// `grpc.reflection.v1`.
    pub mod reflection_v1 {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/grpc.reflection.v1.rs"));
    }
    /// `grpc.reflection.v1alpha`.
    pub mod reflection_v1alpha {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/grpc.reflection.v1alpha.rs"));
    }
    /// `grpc.channelz.v1`.
    pub mod channelz_v1 {
        #![allow(missing_docs, clippy::all)]
        include!(concat!(env!("OUT_DIR"), "/grpc.channelz.v1.rs"));
    }
}

/// The encoded `FileDescriptorSet` of this crate's own protos (health,
/// reflection and channelz, with the well-known types channelz imports), so
/// a reflection service can describe them too.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/services.bin"));
