//! [`SimRt`]: weir-rt's `Runtime` and `Net` on the simulation. Tasks run on
//! the simulation's executor as tasks of the host that spawned them; time is
//! virtual; sockets are the simulated network's, from the current host.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use weir_rt::runtime::{BoxFuture, Io, Listener, Net, Runtime, Timer};
use weir_rt::tcp::TcpOptions;

use crate::HostId;
use crate::executor::current_host;
use crate::net::{SimListener, connect};
use crate::world::World;

/// The runtime handle tasks in a simulation use (cheap to clone).
#[derive(Clone)]
pub struct SimRt {
    pub(crate) world: Arc<World>,
}

impl std::fmt::Debug for SimRt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRt").finish_non_exhaustive()
    }
}

impl SimRt {
    /// The host whose task is running (sockets are opened from it).
    fn host(&self) -> HostId {
        current_host().expect("weir-sim: tasks are spawned and sockets opened from a task of a host")
    }
}

/// A timer on virtual time: ready once the simulation's clock reaches it.
pub struct SimTimer {
    world: Arc<World>,
    at: Instant,
    id: u64,
    key: Option<(std::time::Duration, u64)>,
}

impl Future for SimTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(key) = self.key.take() {
            self.world.cancel(key);
        }
        if self.world.now() >= self.at {
            return Poll::Ready(());
        }
        let (at, id) = (self.at, self.id);
        self.key = Some(self.world.wake_at(at, id, cx.waker()));
        Poll::Pending
    }
}

impl Timer for SimTimer {
    fn reset(&mut self, at: Instant) {
        if let Some(key) = self.key.take() {
            self.world.cancel(key);
        }
        self.at = at;
    }
}

impl Drop for SimTimer {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.world.cancel(key);
        }
    }
}

pub(crate) fn sleep(world: &Arc<World>, at: Instant) -> SimTimer {
    let id = world.clock().id();
    SimTimer { world: world.clone(), at, id, key: None }
}

impl Runtime for SimRt {
    type Timer = SimTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.world.executor.spawn(self.host(), fut);
    }

    fn timer(&self, at: Instant) -> SimTimer {
        sleep(&self.world, at)
    }

    fn now(&self) -> Instant {
        self.world.now()
    }
}

impl Net for SimRt {
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        _options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let bound = SimListener::bind(&self.world, self.host(), addr);
        Box::pin(async move { bound.map(|l| Box::new(l) as Box<dyn Listener>) })
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        _options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let (world, host) = (self.world.clone(), self.host());
        Box::pin(async move { connect(world, host, addr).await.map(|s| Box::new(s) as Box<dyn Io>) })
    }

    #[cfg(unix)]
    fn bind_unix(&self, _path: &std::path::Path) -> io::Result<Box<dyn Listener>> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "weir-sim has no Unix sockets"))
    }

    #[cfg(unix)]
    fn connect_unix(&self, _path: &std::path::Path) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        Box::pin(async { Err(io::Error::new(io::ErrorKind::Unsupported, "weir-sim has no Unix sockets")) })
    }

    /// Host names are the simulation's: `server1` resolves to its address.
    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let found =
            self.world.net().hosts.iter().find(|h| h.name == host).map(|h| SocketAddr::new(h.ip, port));
        Box::pin(async move {
            found
                .map(|a| vec![a])
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no host {host}")))
        })
    }
}
