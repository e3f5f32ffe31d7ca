//! Registering a server instance in etcd under a lease kept alive, so that
//! the key disappears by itself when the instance dies.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{Either, select};
use weir_rt::Status;
use weir_rt::runtime::Runtime;

use crate::EtcdClient;
use crate::pb::etcdserverpb::LeaseKeepAliveRequest;

/// What a registration reports while it runs.
#[derive(Debug, Default)]
struct Shared {
    /// The lease the key is attached to now (0: none yet, or lost).
    lease: AtomicI64,
    /// Times the key was written under a new lease.
    registrations: AtomicU64,
    /// Why etcd could not be reached last, until it is again.
    last_error: std::sync::Mutex<Option<Status>>,
}

/// A key (`/services/<service>/<instance-id>` → `host:port`) kept in etcd
/// while this instance lives: written under a lease of `ttl`, renewed every
/// `ttl / 3` on a keep-alive stream, written again under a new lease when
/// etcd lost the old one (an etcd restart that outlived the TTL, a long
/// partition), and retried with backoff while etcd is unreachable.
///
/// [`deregister`](Self::deregister) deletes the key at once (hook it into
/// the server's graceful shutdown with [`deregister_on`](Self::deregister_on));
/// a crashed process leaves it until the lease expires, within `ttl`.
#[derive(Debug)]
pub struct Registration {
    stop: Option<oneshot::Sender<bool>>,
    done: oneshot::Receiver<()>,
    shared: Arc<Shared>,
}

impl Registration {
    /// Registers `key` → `value` with a lease of `ttl` (whole seconds, at
    /// least 1) and keeps it registered from a task on `rt`.
    pub fn start<R: Runtime>(
        rt: R,
        client: EtcdClient,
        key: impl Into<String>,
        value: impl Into<String>,
        ttl: Duration,
    ) -> Registration {
        let (stop, stopped) = oneshot::channel();
        let (finished, done) = oneshot::channel();
        let shared = Arc::new(Shared::default());
        let task = Keeper {
            rt: rt.clone(),
            client,
            key: key.into(),
            value: value.into(),
            ttl: Duration::from_secs(ttl.as_secs().max(1)),
            shared: shared.clone(),
        };
        rt.spawn(async move {
            task.run(stopped).await;
            let _ = finished.send(());
        });
        Registration { stop: Some(stop), done, shared }
    }

    /// The lease the key is attached to, once registered (`None` while it
    /// is being registered again).
    pub fn lease(&self) -> Option<i64> {
        Some(self.shared.lease.load(Ordering::Acquire)).filter(|&id| id != 0)
    }

    /// How many times the key was written under a new lease (1 after the
    /// first registration; more after each lost lease).
    pub fn registrations(&self) -> u64 {
        self.shared.registrations.load(Ordering::Acquire)
    }

    /// Why the last attempt to reach etcd failed, while the registration
    /// is retrying (`None` once a keep-alive got through again).
    pub fn last_error(&self) -> Option<Status> {
        self.shared.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Deletes the key (by revoking its lease) and stops.
    pub async fn deregister(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        let _ = (&mut self.done).await;
    }

    /// Stops renewing the lease but leaves the key: it disappears when the
    /// lease expires, as after a crash.
    pub async fn abandon(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(false);
        }
        let _ = (&mut self.done).await;
    }

    /// A shutdown signal for `Server::serve_with_shutdown`: once `signal`
    /// fires, the key is deleted first, so clients stop picking this
    /// instance before its graceful shutdown begins.
    pub async fn deregister_on(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.deregister().await;
    }
}

impl Drop for Registration {
    /// Dropped without `deregister`: the key is deleted in the background.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

/// How a keep-alive session ended.
enum SessionEnd {
    /// etcd no longer has the lease: register again.
    LeaseLost,
    /// etcd could not be reached or the stream broke: retry the lease.
    Failed(Status),
}

struct Keeper<R> {
    rt: R,
    client: EtcdClient,
    key: String,
    value: String,
    ttl: Duration,
    shared: Arc<Shared>,
}

/// The longest wait between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl<R: Runtime> Keeper<R> {
    async fn run(self, mut stopped: oneshot::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let session = pin!(self.session());
            match select(session, &mut stopped).await {
                Either::Right((deregister, _)) => {
                    // A dropped handle deregisters too.
                    if deregister.unwrap_or(true) {
                        self.revoke().await;
                    }
                    return;
                }
                Either::Left((SessionEnd::LeaseLost, _)) => {
                    self.shared.lease.store(0, Ordering::Release);
                    backoff = Duration::from_millis(100);
                }
                Either::Left((SessionEnd::Failed(status), _)) => {
                    *self.shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
                    let wait = pin!(self.rt.sleep_until(self.rt.now() + backoff));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if let Either::Right((deregister, _)) = select(wait, &mut stopped).await {
                        if deregister.unwrap_or(true) {
                            self.revoke().await;
                        }
                        return;
                    }
                }
            }
        }
    }

    /// Registers under a new lease unless one is held, then renews it until
    /// it is lost or etcd cannot be reached.
    async fn session(&self) -> SessionEnd {
        let lease = match self.shared.lease.load(Ordering::Acquire) {
            0 => match self.register().await {
                Ok(id) => id,
                Err(status) => return SessionEnd::Failed(status),
            },
            id => id,
        };
        self.keep_alive(lease).await
    }

    async fn register(&self) -> Result<i64, Status> {
        let (lease, _) = self.client.grant(self.ttl.as_secs() as i64).await?;
        self.client.put(self.key.as_bytes(), self.value.as_bytes(), lease).await?;
        self.shared.lease.store(lease, Ordering::Release);
        self.shared.registrations.fetch_add(1, Ordering::AcqRel);
        Ok(lease)
    }

    /// Renews `lease` every `ttl / 3`; a stream without an answer for a
    /// whole `ttl` counts as broken.
    async fn keep_alive(&self, lease: i64) -> SessionEnd {
        let (tx, rx) = mpsc::unbounded();
        let _ = tx.unbounded_send(LeaseKeepAliveRequest { id: lease });
        let mut responses = match self.client.keep_alive(rx).await {
            Ok(s) => s,
            Err(status) => return SessionEnd::Failed(status),
        };
        let period = self.ttl / 3;
        let mut next = self.rt.now() + period;
        let mut answered = self.rt.now();
        loop {
            let message = pin!(responses.message());
            let tick = pin!(self.rt.sleep_until(next));
            match select(message, tick).await {
                Either::Left((Ok(Some(resp)), _)) => {
                    if resp.ttl <= 0 {
                        return SessionEnd::LeaseLost;
                    }
                    answered = self.rt.now();
                    self.shared.last_error.lock().unwrap_or_else(|e| e.into_inner()).take();
                }
                Either::Left((Ok(None), _)) => {
                    return SessionEnd::Failed(Status::new(
                        weir_rt::Code::Unavailable,
                        "keep-alive stream ended",
                    ));
                }
                Either::Left((Err(status), _)) => return SessionEnd::Failed(status),
                Either::Right(((), _)) => {
                    if self.rt.now() >= answered + self.ttl {
                        return SessionEnd::Failed(Status::new(
                            weir_rt::Code::DeadlineExceeded,
                            "etcd did not answer keep-alives for a whole TTL",
                        ));
                    }
                    let _ = tx.unbounded_send(LeaseKeepAliveRequest { id: lease });
                    next = self.rt.now() + period;
                }
            }
        }
    }

    /// Revokes the lease (deleting the key), giving up after one TTL.
    async fn revoke(&self) {
        let lease = self.shared.lease.swap(0, Ordering::AcqRel);
        if lease == 0 {
            return;
        }
        let revoke = pin!(self.client.revoke(lease));
        let limit = pin!(self.rt.sleep_until(self.rt.now() + self.ttl));
        let _ = select(revoke, limit).await;
    }
}
