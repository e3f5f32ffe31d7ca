//! `grpc.health.v1.Health`: Check and Watch, with the status of each service
//! set at run time through a [`HealthReporter`].
//!
//! Semantics follow the gRPC health-checking protocol: the empty service name
//! is the server as a whole (SERVING from the start); Check answers NOT_FOUND
//! for a service never registered; Watch sends the current status (or
//! SERVICE_UNKNOWN) at once and then every change, for as long as the call
//! lasts.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use weir_rt::{Channel, Code, Request, Response, Status};

use crate::pb::health_v1::health_check_response::ServingStatus as Wire;
use crate::pb::health_v1::health_client::HealthClient as GeneratedClient;
use crate::pb::health_v1::health_server::{Health, HealthServer};
use crate::pb::health_v1::{HealthCheckRequest, HealthCheckResponse};

/// The status of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServingStatus {
    /// Not known yet.
    Unknown,
    /// Serving requests.
    Serving,
    /// Not serving (starting, draining, or a dependency is down).
    NotServing,
    /// Not known to the server (what Watch reports for unregistered names).
    ServiceUnknown,
}

impl ServingStatus {
    fn wire(self) -> Wire {
        match self {
            ServingStatus::Unknown => Wire::Unknown,
            ServingStatus::Serving => Wire::Serving,
            ServingStatus::NotServing => Wire::NotServing,
            ServingStatus::ServiceUnknown => Wire::ServiceUnknown,
        }
    }

    fn from_wire(v: i32) -> Self {
        match Wire::try_from(v) {
            Ok(Wire::Serving) => ServingStatus::Serving,
            Ok(Wire::NotServing) => ServingStatus::NotServing,
            Ok(Wire::ServiceUnknown) => ServingStatus::ServiceUnknown,
            _ => ServingStatus::Unknown,
        }
    }
}

#[derive(Default)]
struct Registry {
    statuses: HashMap<String, ServingStatus>,
    /// Bumped on every change, so a watcher knows whether to look again.
    version: u64,
    watchers: Vec<Waker>,
    /// Set by `shutdown`: every service reports NOT_SERVING from then on.
    shut_down: bool,
}

type Shared = Arc<Mutex<Registry>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Registry> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets the serving status of services; cheap to clone and share.
#[derive(Clone)]
pub struct HealthReporter {
    shared: Shared,
}

impl std::fmt::Debug for HealthReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthReporter").field("services", &lock(&self.shared).statuses).finish()
    }
}

impl HealthReporter {
    /// A reporter and the health service it drives (register the service with
    /// `Server::add_service`). The server as a whole (`""`) starts SERVING.
    pub fn new() -> (HealthReporter, HealthServer<HealthService>) {
        let shared: Shared = Arc::default();
        lock(&shared).statuses.insert(String::new(), ServingStatus::Serving);
        let service = HealthService { shared: shared.clone() };
        (HealthReporter { shared }, HealthServer::new(service))
    }

    /// Sets the status of `service` (its full name, e.g.
    /// `helloworld.Greeter`; `""` for the whole server) and wakes its watchers.
    pub fn set(&self, service: &str, status: ServingStatus) {
        let watchers = {
            let mut r = lock(&self.shared);
            if r.statuses.get(service) == Some(&status) {
                return;
            }
            r.statuses.insert(service.to_owned(), status);
            r.version += 1;
            std::mem::take(&mut r.watchers)
        };
        watchers.into_iter().for_each(Waker::wake);
    }

    /// Forgets `service`: Check answers NOT_FOUND and watchers see SERVICE_UNKNOWN.
    pub fn clear(&self, service: &str) {
        let watchers = {
            let mut r = lock(&self.shared);
            if r.statuses.remove(service).is_none() {
                return;
            }
            r.version += 1;
            std::mem::take(&mut r.watchers)
        };
        watchers.into_iter().for_each(Waker::wake);
    }

    /// Marks every service NOT_SERVING for good (call it when a graceful
    /// shutdown starts, so load balancers stop sending traffic).
    pub fn shutdown(&self) {
        let watchers = {
            let mut r = lock(&self.shared);
            r.shut_down = true;
            r.version += 1;
            std::mem::take(&mut r.watchers)
        };
        watchers.into_iter().for_each(Waker::wake);
    }

    /// The status Check would report for `service` (`None`: NOT_FOUND).
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        status_of(&lock(&self.shared), service)
    }
}

fn status_of(r: &Registry, service: &str) -> Option<ServingStatus> {
    let known = r.statuses.get(service).copied()?;
    Some(if r.shut_down { ServingStatus::NotServing } else { known })
}

/// The `grpc.health.v1.Health` implementation; made by [`HealthReporter::new`].
pub struct HealthService {
    shared: Shared,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse { status: status.wire() as i32 }
}

impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match status_of(&lock(&self.shared), &service) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::new(Code::NotFound, format!("unknown service {service:?}"))),
        }
    }

    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<WatchStream>, Status> {
        let service = request.into_inner().service;
        Ok(Response::new(WatchStream { shared: self.shared.clone(), service, sent: None }))
    }
}

/// The responses of one Watch call: the current status, then each change.
pub struct WatchStream {
    shared: Shared,
    service: String,
    /// The last status sent and the registry version it was read at.
    sent: Option<(ServingStatus, u64)>,
}

impl Stream for WatchStream {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut r = lock(&this.shared);
        if this.sent.is_some_and(|(_, version)| version == r.version) {
            if !r.watchers.iter().any(|w| w.will_wake(cx.waker())) {
                r.watchers.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let now = status_of(&r, &this.service).unwrap_or(ServingStatus::ServiceUnknown);
        let version = r.version;
        drop(r);
        let changed = this.sent.is_none_or(|(status, _)| status != now);
        this.sent = Some((now, version));
        if changed {
            Poll::Ready(Some(Ok(response(now))))
        } else {
            // Another service changed: nothing to say, look again later.
            Pin::new(this).poll_next(cx)
        }
    }
}

/// A client for a server's health service, for health-aware callers (check
/// a backend before sending it traffic, or follow its status).
#[derive(Clone, Debug)]
pub struct HealthClient {
    inner: GeneratedClient,
}

impl HealthClient {
    /// A health client over `channel`.
    pub fn new(channel: Channel) -> Self {
        HealthClient { inner: GeneratedClient::new(channel) }
    }

    /// Check: the status of `service` (`""` for the whole server).
    pub async fn check(&self, service: &str) -> Result<ServingStatus, Status> {
        let r = self.inner.check(HealthCheckRequest { service: service.to_owned() }).await?;
        Ok(ServingStatus::from_wire(r.into_inner().status))
    }

    /// Waits until `service` reports SERVING (a readiness gate before
    /// sending traffic); fails if the Watch call fails.
    pub async fn wait_serving(&self, service: &str) -> Result<(), Status> {
        let mut watch =
            self.inner.watch(HealthCheckRequest { service: service.to_owned() }).await?.into_inner();
        while let Some(r) = watch.message().await? {
            if ServingStatus::from_wire(r.status) == ServingStatus::Serving {
                return Ok(());
            }
        }
        Err(Status::new(Code::Unavailable, "health watch ended before the service was serving"))
    }
}
