//! Client-side health checking (gRPC's `healthCheckConfig`): with
//! [`Endpoint::health_check`](super::Endpoint::health_check), every
//! connection watches `grpc.health.v1.Health/Watch` for the configured
//! service, and the balancer uses it only while the answer is SERVING.
//!
//! As in gRPC: until the first answer the connection counts as connecting;
//! NOT_SERVING (or a failed watch) makes it a transient failure; a server
//! without the health service (UNIMPLEMENTED) is taken as healthy.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use weir_core::grpc::{self, Code, Metadata};

use super::driver::{ClientCmd, ClientLink, ConnHandle};
use super::{Call, streaming_response};
use crate::call::CallShared;
use crate::runtime::BoxFuture;

/// What a connection's health watch has found.
pub(crate) mod health {
    /// No answer yet.
    pub const UNKNOWN: u8 = 0;
    /// SERVING (or health checking is off).
    pub const SERVING: u8 = 1;
    /// Anything else, or the watch failed.
    pub const NOT_SERVING: u8 = 2;
}

const WATCH: &str = "/grpc.health.v1.Health/Watch";
/// Pause before watching again after a watch ended.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The service whose health decides whether a connection is used.
#[derive(Clone, Debug)]
pub(crate) struct HealthCheck {
    pub service: String,
    pub authority: Bytes,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`.
const WIRE_SERVING: i32 = 1;

/// Watches `conn`'s health until the connection is gone; `changed` is called
/// whenever the verdict changes (the pool re-picks), `sleep` pauses.
pub(crate) async fn watch(
    conn: Arc<ConnHandle>,
    check: HealthCheck,
    changed: impl Fn() + Send + Sync,
    sleep: impl Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync,
) {
    let set = |v: u8| {
        if conn.health.swap(v, Ordering::AcqRel) != v {
            changed();
        }
    };
    while conn.usable() {
        match watch_once(&conn, &check, &set).await {
            Code::Unimplemented => return set(health::SERVING),
            _ => set(health::NOT_SERVING),
        }
        sleep(RETRY_AFTER).await;
    }
}

/// One Watch call; returns the code it ended with.
async fn watch_once(conn: &Arc<ConnHandle>, check: &HealthCheck, set: &impl Fn(u8)) -> Code {
    let shared = CallShared::new();
    let key = conn.next_key();
    let req = grpc::CallRequest {
        path: Bytes::from_static(WATCH.as_bytes()),
        authority: check.authority.clone(),
        metadata: Metadata::new(),
        ..grpc::CallRequest::default()
    };
    let body = prost::Message::encode_to_vec(&HealthCheckRequest { service: check.service.clone() });
    let cmd =
        ClientCmd::Start { key, req, shared: shared.clone(), first: Some(Bytes::from(body)), last: true };
    if conn.cmds.push(cmd).is_err() {
        return Code::Unavailable;
    }
    let call = Call { shared, link: Arc::new(ClientLink::uncounted(conn.clone(), key)) };
    let mut stream = match streaming_response(call).await {
        Ok(resp) => resp.into_inner(),
        Err(status) => return status.code,
    };
    loop {
        match stream.message().await {
            Ok(Some(msg)) => {
                let status = <HealthCheckResponse as prost::Message>::decode(msg).map(|r| r.status);
                set(if status == Ok(WIRE_SERVING) { health::SERVING } else { health::NOT_SERVING });
            }
            // The server ended the watch: look again.
            Ok(None) => return Code::Ok,
            Err(status) => return status.code,
        }
    }
}
