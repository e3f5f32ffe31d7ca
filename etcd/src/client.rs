//! A small etcd v3 client on Weir's generated stubs: the calls discovery
//! needs (range, put, delete, compact, leases, watch), and authentication.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::Stream;
use weir_rt::runtime::Net;
use weir_rt::{Channel, Code, Endpoint, Request, Status, Streaming};

use crate::pb::etcdserverpb::auth_client::AuthClient;
use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::lease_client::LeaseClient;
use crate::pb::etcdserverpb::watch_client::WatchClient;
use crate::pb::etcdserverpb::{
    AuthenticateRequest, CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, LeaseRevokeRequest, PutRequest, RangeRequest, WatchRequest, WatchResponse,
};

/// One key and its value, with the revision that last changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// The revision of its last change.
    pub mod_revision: i64,
    /// The lease it is attached to (0: none).
    pub lease: i64,
}

/// The end of the key range holding every key that starts with `prefix`
/// (etcd's `range_end` convention: the prefix with its last byte below 0xff
/// incremented; `"\0"` for all keys).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[derive(Default)]
struct Credentials {
    user: Option<(String, String)>,
    token: Option<String>,
}

/// An etcd client over a Weir channel. Cheap to clone; clones share the
/// channel and the auth token.
#[derive(Clone)]
pub struct EtcdClient {
    channel: Channel,
    kv: KvClient,
    lease: LeaseClient,
    watch: WatchClient,
    auth: AuthClient,
    credentials: Arc<Mutex<Credentials>>,
}

impl std::fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdClient").field("channel", &self.channel).finish()
    }
}

impl EtcdClient {
    /// A client of the etcd at `target` (`http://host:2379`, `https://...`,
    /// or several members as `ipv4:a:2379,b:2379`, balanced round robin),
    /// on runtime `R`. For TLS options (a private CA, a client certificate)
    /// build the channel yourself and use [`EtcdClient::new`].
    pub async fn connect<R: Net + Default>(target: &str) -> Result<Self, Status> {
        // A control-plane client retries soon: leases expire in seconds.
        let backoff = weir_rt::Backoff {
            initial: std::time::Duration::from_millis(100),
            max: std::time::Duration::from_secs(2),
            ..weir_rt::Backoff::default()
        };
        let channel = Endpoint::<R>::new(target)?
            .balancer(weir_rt::client::RoundRobin::default())
            .backoff(backoff)
            .connect_lazy()?;
        Ok(EtcdClient::new(channel))
    }

    /// A client over an existing channel (TLS, timeouts, interceptors as
    /// the channel has them).
    pub fn new(channel: Channel) -> Self {
        EtcdClient {
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel.clone()),
            watch: WatchClient::new(channel.clone()),
            auth: AuthClient::new(channel.clone()),
            channel,
            credentials: Arc::default(),
        }
    }

    /// Authenticates as `user` (etcd's user/password auth): every later
    /// call carries the token, which is renewed when etcd says it expired.
    /// A failed attempt changes nothing.
    pub async fn authenticate(&self, user: &str, password: &str) -> Result<(), Status> {
        let login = AuthenticateRequest { name: user.to_owned(), password: password.to_owned() };
        let token = self.auth.authenticate(login).await?.into_inner().token;
        let mut c = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        c.user = Some((user.to_owned(), password.to_owned()));
        c.token = Some(token);
        Ok(())
    }

    async fn renew_token(&self) -> Result<(), Status> {
        let user = self.credentials.lock().unwrap_or_else(|e| e.into_inner()).user.clone();
        let Some((name, password)) = user else { return Ok(()) };
        let token = self.auth.authenticate(AuthenticateRequest { name, password }).await?.into_inner().token;
        self.credentials.lock().unwrap_or_else(|e| e.into_inner()).token = Some(token);
        Ok(())
    }

    /// `message` with the auth token, if any.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut req = Request::new(message);
        if let Some(token) = &self.credentials.lock().unwrap_or_else(|e| e.into_inner()).token {
            // A token is ASCII; a bad one is simply not sent.
            let _ = req.metadata_mut().append("token", token);
        }
        req
    }

    /// Runs `call`, renewing the token and trying once more when etcd says
    /// it is invalid (tokens expire, and a restarted etcd forgets them).
    async fn authed<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        match call().await {
            Err(status) if status.code == Code::Unauthenticated && self.has_user() => {
                self.renew_token().await?;
                call().await
            }
            other => other,
        }
    }

    fn has_user(&self) -> bool {
        self.credentials.lock().unwrap_or_else(|e| e.into_inner()).user.is_some()
    }

    /// Every key starting with `prefix`, and the store's revision they were
    /// read at (a watch from the next revision misses nothing).
    pub async fn get_prefix(&self, prefix: &[u8]) -> Result<(Vec<KeyValue>, i64), Status> {
        let range =
            RangeRequest { key: prefix.to_vec(), range_end: prefix_end(prefix), ..Default::default() };
        let resp = self.authed(|| self.kv.range(self.request(range.clone()))).await?.into_inner();
        let revision = resp.header.map_or(0, |h| h.revision);
        let kvs = resp
            .kvs
            .into_iter()
            .map(|kv| KeyValue {
                key: kv.key.into(),
                value: kv.value.into(),
                mod_revision: kv.mod_revision,
                lease: kv.lease,
            })
            .collect();
        Ok((kvs, revision))
    }

    /// Sets `key` to `value`, attached to `lease` (0: none); returns the
    /// new revision.
    pub async fn put(&self, key: &[u8], value: &[u8], lease: i64) -> Result<i64, Status> {
        let put = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() };
        let resp = self.authed(|| self.kv.put(self.request(put.clone()))).await?.into_inner();
        Ok(resp.header.map_or(0, |h| h.revision))
    }

    /// Deletes `key`; returns how many keys were deleted (0 or 1).
    pub async fn delete(&self, key: &[u8]) -> Result<i64, Status> {
        let del = DeleteRangeRequest { key: key.to_vec(), ..Default::default() };
        Ok(self.authed(|| self.kv.delete_range(self.request(del.clone()))).await?.into_inner().deleted)
    }

    /// Compacts the history up to `revision`: watches from before it are
    /// cancelled with the compaction revision.
    pub async fn compact(&self, revision: i64) -> Result<(), Status> {
        let req = CompactionRequest { revision, physical: true };
        self.authed(|| self.kv.compact(self.request(req))).await?;
        Ok(())
    }

    /// A lease of `ttl_seconds`; returns its id and the TTL etcd granted.
    pub async fn grant(&self, ttl_seconds: i64) -> Result<(i64, i64), Status> {
        let req = LeaseGrantRequest { ttl: ttl_seconds, id: 0 };
        let resp = self.authed(|| self.lease.lease_grant(self.request(req))).await?.into_inner();
        if !resp.error.is_empty() {
            return Err(Status::new(Code::Unavailable, format!("lease grant failed: {}", resp.error)));
        }
        Ok((resp.id, resp.ttl))
    }

    /// Revokes `lease`, deleting the keys attached to it.
    pub async fn revoke(&self, lease: i64) -> Result<(), Status> {
        let req = LeaseRevokeRequest { id: lease };
        self.authed(|| self.lease.lease_revoke(self.request(req))).await?;
        Ok(())
    }

    /// Opens a keep-alive stream: each request sent renews a lease, each
    /// response gives its new TTL (0 once it expired).
    pub async fn keep_alive(
        &self,
        requests: impl Stream<Item = LeaseKeepAliveRequest> + Send + 'static,
    ) -> Result<Streaming<LeaseKeepAliveResponse>, Status> {
        Ok(self.lease.lease_keep_alive(self.request(requests)).await?.into_inner())
    }

    /// Opens a watch stream: the requests create (or cancel) watches, the
    /// responses carry their events.
    pub async fn watch(
        &self,
        requests: impl Stream<Item = WatchRequest> + Send + 'static,
    ) -> Result<Streaming<WatchResponse>, Status> {
        Ok(self.watch.watch(self.request(requests)).await?.into_inner())
    }

    /// The channel to etcd.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"/services/a/"), b"/services/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }
}
