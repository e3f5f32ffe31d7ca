//! The admin bundle: channelz, health and reflection on a server in one
//! call, as gRPC-Go's `admin.Register` does.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use weir_services::admin::Admin;
//! use weir_services::health::ServingStatus;
//! let admin = Admin::new();
//! let server = admin.register(weir_tokio::Server::builder() /* .add_service(your services) */);
//! admin.health().set("helloworld.Greeter", ServingStatus::Serving);
//! server.serve("127.0.0.1:50051".parse().unwrap()).await
//! # }
//! ```

use weir_rt::Server;
use weir_rt::runtime::Net;

use crate::channelz::Channelz;
use crate::health::{HealthReporter, HealthService};
use crate::pb::health_v1::health_server::HealthServer;
use crate::pb::reflection_v1::server_reflection_server::ServerReflectionServer as ReflectionV1Server;
use crate::pb::reflection_v1alpha::server_reflection_server::ServerReflectionServer as ReflectionV1AlphaServer;
use crate::reflection::{ReflectionBuilder, ReflectionError, ReflectionV1, ReflectionV1Alpha};

/// channelz (`grpc.channelz.v1`), health (`grpc.health.v1`) and reflection
/// (`grpc.reflection.v1` and `v1alpha`), ready to add to servers.
#[derive(Debug, Clone)]
pub struct Admin {
    channelz: Channelz,
    reporter: HealthReporter,
    health: HealthServer<HealthService>,
    reflection_v1: ReflectionV1Server<ReflectionV1>,
    reflection_v1alpha: ReflectionV1AlphaServer<ReflectionV1Alpha>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin::new()
    }
}

impl Admin {
    /// A new channelz registry, a health service (the server as a whole
    /// SERVING) and reflection describing this crate's services; see
    /// [`Admin::with_reflection`] to describe yours too.
    pub fn new() -> Self {
        Admin::with_reflection(ReflectionBuilder::new()).expect("this crate's own descriptors decode")
    }

    /// As [`Admin::new`], with reflection built from `reflection` (register
    /// your services' descriptor sets on it first).
    pub fn with_reflection(reflection: ReflectionBuilder) -> Result<Self, ReflectionError> {
        let (reporter, health) = HealthReporter::new();
        Ok(Admin {
            channelz: Channelz::new(),
            reporter,
            health,
            reflection_v1: reflection.build_v1()?,
            reflection_v1alpha: reflection.build_v1alpha()?,
        })
    }

    /// Uses `channelz` as the registry (one shared with channels, or with
    /// another socket limit).
    pub fn with_channelz(mut self, channelz: Channelz) -> Self {
        self.channelz = channelz;
        self
    }

    /// The channelz registry: register your channels with
    /// [`Channelz::channel_handler`].
    pub fn channelz(&self) -> &Channelz {
        &self.channelz
    }

    /// Sets the health status of your services.
    pub fn health(&self) -> &HealthReporter {
        &self.reporter
    }

    /// Adds the admin services to `server` and makes it a channelz server
    /// entity (a stats handler of its own, beside any others the server has,
    /// such as weir-otel's metrics).
    /// Several servers may share one `Admin`; each is its own channelz
    /// server.
    pub fn register<R: Net>(&self, server: Server<R>) -> Server<R> {
        server
            .stats_handler(self.channelz.server_handler())
            .add_service(self.channelz.service())
            .add_service(self.health.clone())
            .add_service(self.reflection_v1.clone())
            .add_service(self.reflection_v1alpha.clone())
    }
}
