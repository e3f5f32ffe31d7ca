//! One target's connection: lazy connect, reconnect after loss with
//! exponential backoff (gRPC's connection-backoff), fail-fast while the
//! target is unreachable.

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use weir_core::grpc::{self, Code, Status};

use super::driver::{ClientDriver, ConnHandle};
use crate::runtime::{BoxFuture, Io, Net};
use crate::util::{Either, select};

/// Connection backoff (grpc/doc/connection-backoff.md).
#[derive(Clone, Debug)]
pub struct Backoff {
    /// First delay after a failed attempt.
    pub initial: Duration,
    /// Growth per further failure.
    pub multiplier: f64,
    /// Randomisation: each delay is moved by up to this fraction either way.
    pub jitter: f64,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

/// Where to connect.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Tcp {
        host: String,
        port: u16,
    },
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

/// Opens the byte stream of a new connection instead of dialing the target
/// (`Endpoint::connector`).
pub(crate) type Dial = Arc<dyn Fn() -> BoxFuture<'static, io::Result<Box<dyn Io>>> + Send + Sync>;

/// How to open a connection to the target.
pub(crate) struct Connector<R: Net> {
    pub rt: R,
    pub target: Target,
    pub dial: Option<Dial>,
    #[cfg(feature = "tls")]
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls_pki_types::ServerName<'static>)>,
}

impl<R: Net> Connector<R> {
    pub fn connect(&self) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let rt = self.rt.clone();
        let target = self.target.clone();
        let dial = self.dial.clone();
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        Box::pin(async move {
            let io = match (dial, target) {
                (Some(dial), _) => dial().await?,
                (None, Target::Tcp { host, port }) => {
                    let addrs = rt.resolve(host, port).await?;
                    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address resolved");
                    let mut connected = None;
                    for a in addrs {
                        match rt.connect_tcp(a).await {
                            Ok(io) => {
                                connected = Some(io);
                                break;
                            }
                            Err(e) => last = e,
                        }
                    }
                    connected.ok_or(last)?
                }
                #[cfg(unix)]
                (None, Target::Unix(path)) => rt.connect_unix(&path).await?,
            };
            #[cfg(feature = "tls")]
            if let Some((config, name)) = tls {
                let (io, info) = rt.tls_connect(io, config, name).await?;
                // gRPC requires HTTP/2: a server that did not agree on h2 speaks
                // something else.
                if info.alpn.as_deref() != Some(crate::tls::ALPN_H2) {
                    let got = info.alpn.map(|a| String::from_utf8_lossy(&a).into_owned());
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("ALPN mismatch: server negotiated {got:?}, gRPC requires \"h2\""),
                    ));
                }
                return Ok(io);
            }
            Ok(io)
        })
    }
}

enum State {
    Idle,
    Connecting(Vec<Waker>),
    Ready(Arc<ConnHandle>),
    Failed { until: Instant, status: Status },
}

/// The connection of one channel.
pub(crate) struct Pool<R: Net> {
    rt: R,
    connector: Connector<R>,
    config: grpc::ClientConfig,
    connect_timeout: Duration,
    backoff: Backoff,
    state: Mutex<State>,
    failures: Mutex<u32>,
}

impl<R: Net> Pool<R> {
    pub fn new(
        rt: R,
        connector: Connector<R>,
        config: grpc::ClientConfig,
        connect_timeout: Duration,
        backoff: Backoff,
    ) -> Arc<Self> {
        Arc::new(Pool {
            rt,
            connector,
            config,
            connect_timeout,
            backoff,
            state: Mutex::new(State::Idle),
            failures: Mutex::new(0),
        })
    }

    pub fn runtime(&self) -> &R {
        &self.rt
    }

    /// A usable connection: the current one, or a new one.
    pub async fn connection(self: &Arc<Self>) -> Result<Arc<ConnHandle>, Status> {
        std::future::poll_fn(|cx| {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match &mut *s {
                    State::Ready(h) if h.usable() => return Poll::Ready(Ok(h.clone())),
                    State::Ready(_) => *s = State::Idle,
                    State::Idle => {
                        *s = State::Connecting(vec![cx.waker().clone()]);
                        let this = self.clone();
                        self.rt.spawn(async move { this.connect_once().await });
                        return Poll::Pending;
                    }
                    State::Connecting(waiters) => {
                        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                            waiters.push(cx.waker().clone());
                        }
                        return Poll::Pending;
                    }
                    State::Failed { until, status } => {
                        if self.rt.now() < *until {
                            return Poll::Ready(Err(status.clone()));
                        }
                        *s = State::Idle;
                    }
                }
            }
        })
        .await
    }

    async fn connect_once(self: Arc<Self>) {
        let timeout = self.rt.sleep_until(self.rt.now() + self.connect_timeout);
        let outcome = match select(self.connector.connect(), timeout).await {
            Either::Left(Ok(io)) => Ok(io),
            Either::Left(Err(e)) => {
                Err(Status::new(Code::Unavailable, format!("failed to connect: {e}")).with_source(e))
            }
            Either::Right(()) => Err(Status::new(Code::Unavailable, "connect timed out")),
        };
        let next = match outcome {
            Ok(io) => {
                *self.failures.lock().unwrap_or_else(|e| e.into_inner()) = 0;
                let handle = ConnHandle::new();
                let driver = ClientDriver::new(self.rt.clone(), io, self.config.clone(), handle.clone());
                self.rt.spawn(driver);
                State::Ready(handle)
            }
            Err(status) => {
                let delay = self.next_delay();
                State::Failed { until: self.rt.now() + delay, status }
            }
        };
        let waiters = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match std::mem::replace(&mut *s, next) {
                State::Connecting(w) => w,
                _ => Vec::new(),
            }
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    fn next_delay(&self) -> Duration {
        let mut n = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let b = &self.backoff;
        let base = b.initial.as_secs_f64() * b.multiplier.powi(*n as i32);
        *n = n.saturating_add(1);
        let capped = base.min(b.max.as_secs_f64());
        let spread = 1.0 + b.jitter * (2.0 * random_unit() - 1.0);
        Duration::from_secs_f64((capped * spread).max(0.0))
    }
}

/// A number in [0, 1) from the standard library's randomly keyed hasher.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let h = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (h >> 11) as f64 / (1u64 << 53) as f64
}
