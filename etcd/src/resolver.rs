//! A Weir resolver that reads the instances registered under an etcd
//! prefix and watches it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::future::{Either, select};
use weir_rt::client::{Address, Resolver, ResolverUpdates};
use weir_rt::runtime::{BoxFuture, Runtime};
use weir_rt::{Code, Status};

use crate::pb::etcdserverpb::watch_request::RequestUnion;
use crate::pb::etcdserverpb::{WatchCreateRequest, WatchRequest};
use crate::pb::mvccpb::event::EventType;
use crate::{EtcdClient, prefix_end};

/// The last path segment of the key holding the service config (JSON,
/// gRFC A2) beside the instances: `<prefix>_config`.
pub const CONFIG_KEY: &str = "_config";

/// Resolves a service to the instances registered under an etcd prefix
/// (`/services/greeter/`): reads them all, then watches the prefix from the
/// revision it read (so no change between the two is missed), and pushes
/// the address list to the channel on every change. A value is `host:port`
/// with an IP address, or gRPC-Go's etcd endpoint JSON
/// (`{"Addr": "10.0.0.1:50051"}`); the key `<prefix>_config` may hold the
/// service config. Reconnects with backoff and resumes the watch where it
/// stopped; when etcd compacted that history away, reads everything again.
#[derive(Clone, Debug)]
pub struct EtcdResolver<R> {
    rt: R,
    client: EtcdClient,
    prefix: Vec<u8>,
    view: ResolverView,
}

impl<R: Runtime> EtcdResolver<R> {
    /// Resolves the instances under `prefix`, with tasks and timers on `rt`.
    pub fn new(rt: R, client: EtcdClient, prefix: impl Into<Vec<u8>>) -> Self {
        EtcdResolver { rt, client, prefix: prefix.into(), view: ResolverView::default() }
    }

    /// What the resolver last gave its channel, readable after it moved
    /// into an endpoint (for status pages and tests).
    pub fn view(&self) -> ResolverView {
        self.view.clone()
    }
}

/// What an [`EtcdResolver`] found: the address list it last pushed and how
/// many times it read its whole prefix. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ResolverView {
    syncs: Arc<AtomicU64>,
    addresses: Arc<Mutex<Vec<SocketAddr>>>,
    skipped: Arc<Mutex<Vec<Bytes>>>,
}

impl ResolverView {
    /// Full reads of the prefix: one at start, one more after each
    /// compaction that cut the watch off.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Acquire)
    }

    /// The addresses last pushed to the channel, in key order.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The keys whose values are not addresses (skipped, with a warning).
    pub fn skipped(&self) -> Vec<Bytes> {
        self.skipped.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How a watch ended.
enum WatchEnd {
    /// etcd compacted the revisions the watch needed: read everything again.
    Compacted,
    /// The stream failed; resume from this revision after a pause.
    Failed(i64),
    /// The channel is gone.
    Closed,
}

/// The longest pause between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl<R: Runtime> Resolver for EtcdResolver<R> {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move { this.resolve(updates).await })
    }
}

impl<R: Runtime> EtcdResolver<R> {
    async fn resolve(self, updates: ResolverUpdates) {
        let mut backoff = Duration::from_millis(100);
        let mut pusher = Pusher { config: None, view: self.view.clone() };
        loop {
            if updates.is_closed() {
                return;
            }
            let (kvs, revision) = match self.client.get_prefix(&self.prefix).await {
                Ok(read) => read,
                Err(status) => {
                    let prefix = String::from_utf8_lossy(&self.prefix);
                    let why = format!("etcd resolver: cannot read {prefix:?} from etcd: {}", status.message);
                    updates.error(Status::new(Code::Unavailable, why).with_source(status));
                    self.pause(&mut backoff).await;
                    continue;
                }
            };
            self.view.syncs.fetch_add(1, Ordering::AcqRel);
            let mut keys: BTreeMap<Bytes, Bytes> = kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
            if !pusher.push(&updates, &keys) {
                return;
            }
            let mut from = revision + 1;
            loop {
                match self.watch(&updates, &mut keys, &mut from, &mut pusher).await {
                    WatchEnd::Closed => return,
                    WatchEnd::Compacted => break,
                    WatchEnd::Failed(resume) => {
                        from = resume;
                        self.pause(&mut backoff).await;
                    }
                }
            }
        }
    }

    async fn pause(&self, backoff: &mut Duration) {
        self.rt.sleep_until(self.rt.now() + *backoff).await;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
    }

    /// Watches the prefix from revision `from`, applying events to `keys`
    /// and pushing each new list; `from` follows the events seen.
    async fn watch(
        &self,
        updates: &ResolverUpdates,
        keys: &mut BTreeMap<Bytes, Bytes>,
        from: &mut i64,
        pusher: &mut Pusher,
    ) -> WatchEnd {
        let (tx, rx) = mpsc::unbounded();
        let create = WatchCreateRequest {
            key: self.prefix.clone(),
            range_end: prefix_end(&self.prefix),
            start_revision: *from,
            ..Default::default()
        };
        let _ = tx.unbounded_send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) });
        let mut stream = match self.client.watch(rx).await {
            Ok(stream) => stream,
            Err(_) => return WatchEnd::Failed(*from),
        };
        loop {
            let message = pin!(stream.message());
            let closed = pin!(updates.resolve_requested());
            let resp = match select(message, closed).await {
                // Re-resolution asked: the watch keeps the list current.
                Either::Right((true, _)) => continue,
                Either::Right((false, _)) => return WatchEnd::Closed,
                Either::Left((Ok(Some(resp)), _)) => resp,
                Either::Left((Ok(None) | Err(_), _)) => return WatchEnd::Failed(*from),
            };
            if resp.compact_revision > 0 {
                return WatchEnd::Compacted;
            }
            if resp.canceled {
                return WatchEnd::Failed(*from);
            }
            for event in &resp.events {
                let Some(kv) = &event.kv else { continue };
                let key = Bytes::copy_from_slice(&kv.key);
                match EventType::try_from(event.r#type) {
                    Ok(EventType::Put) => {
                        keys.insert(key, Bytes::copy_from_slice(&kv.value));
                    }
                    Ok(EventType::Delete) => {
                        keys.remove(&key);
                    }
                    Err(_) => {}
                }
                *from = (*from).max(kv.mod_revision + 1);
            }
            if !resp.events.is_empty() && !pusher.push(updates, keys) {
                return WatchEnd::Closed;
            }
        }
    }
}

/// Turns the keys into what the channel takes, sending a service config
/// only when it changed.
struct Pusher {
    config: Option<Bytes>,
    view: ResolverView,
}

impl Pusher {
    /// False once the channel is gone.
    fn push(&mut self, updates: &ResolverUpdates, keys: &BTreeMap<Bytes, Bytes>) -> bool {
        let mut addresses = Vec::new();
        let mut config = None;
        let mut skipped = Vec::new();
        for (key, value) in keys {
            if key.rsplit(|&b| b == b'/').next() == Some(CONFIG_KEY.as_bytes()) {
                config = Some(value.clone());
            } else if let Some(addr) = parse_address(value) {
                addresses.push(addr);
            } else {
                skipped.push(key.clone());
            }
        }
        let mut seen = self.view.skipped.lock().unwrap_or_else(|e| e.into_inner());
        for key in skipped.iter().filter(|k| !seen.contains(k)) {
            tracing::warn!(
                key = %String::from_utf8_lossy(key),
                value = %String::from_utf8_lossy(&keys[key]),
                "etcd resolver: skipping a value that is not an IP address and port"
            );
        }
        *seen = skipped;
        drop(seen);
        if config.is_some() && config != self.config {
            self.config = config.clone();
            let json = config.as_deref().and_then(|c| std::str::from_utf8(c).ok()).unwrap_or("");
            if let Err(e) = updates.service_config(json) {
                // The channel keeps its config; the resolver says why once.
                updates.error(Status::new(Code::InvalidArgument, e.to_string()));
            }
        }
        *self.view.addresses.lock().unwrap_or_else(|e| e.into_inner()) = addresses.clone();
        updates.update(addresses.into_iter().map(Address::Tcp).collect())
    }
}

/// `host:port` with an IP address, or gRPC-Go's endpoint JSON
/// (`{"Addr": "...", "Metadata": ...}`).
fn parse_address(value: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if let Ok(addr) = text.parse() {
        return Some(addr);
    }
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    json.get("Addr")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn values_are_addresses_or_grpc_go_endpoint_json() {
        assert_eq!(parse_address(b"127.0.0.1:50051"), Some("127.0.0.1:50051".parse().unwrap()));
        assert_eq!(parse_address(b"[::1]:7"), Some("[::1]:7".parse().unwrap()));
        let json = br#"{"Addr": "10.0.0.2:8080", "Metadata": null}"#;
        assert_eq!(parse_address(json), Some("10.0.0.2:8080".parse().unwrap()));
        assert_eq!(parse_address(b"greeter.internal:50051"), None, "host names are not resolved");
        assert_eq!(parse_address(b"\xff"), None);
    }
}
