//! The server and the channel hand their TCP options to the runtime adapter
//! for every socket (`TcpOptions::apply`'s own tests check what the options do).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use weir_rt::runtime::{BoxFuture, Io, Listener, Net, Runtime};
use weir_rt::tcp::DEFAULT_LOOPBACK_SEND_BUFFER;
use weir_rt::{Endpoint, Method, Request, Response, Server, TcpOptions};
use weir_tokio::Tokio;

/// tokio, recording the options of each bind and connect.
#[derive(Clone, Default)]
struct Recording {
    seen: Arc<Mutex<Vec<(&'static str, TcpOptions)>>>,
}

impl Recording {
    fn take(&self) -> Vec<(&'static str, TcpOptions)> {
        std::mem::take(&mut self.seen.lock().unwrap())
    }
}

impl Runtime for Recording {
    type Timer = <Tokio as Runtime>::Timer;

    fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        Tokio.spawn(fut)
    }

    fn timer(&self, at: Instant) -> Self::Timer {
        Tokio.timer(at)
    }
}

impl Net for Recording {
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, std::io::Result<Box<dyn Listener>>> {
        self.seen.lock().unwrap().push(("bind", options));
        Tokio.bind_tcp(addr, options)
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, std::io::Result<Box<dyn Io>>> {
        self.seen.lock().unwrap().push(("connect", options));
        Tokio.connect_tcp(addr, options)
    }

    fn bind_unix(&self, path: &std::path::Path) -> std::io::Result<Box<dyn Listener>> {
        Tokio.bind_unix(path)
    }

    fn connect_unix(&self, path: &std::path::Path) -> BoxFuture<'static, std::io::Result<Box<dyn Io>>> {
        Tokio.connect_unix(path)
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        Tokio.resolve(host, port)
    }
}

fn options(loopback_send_buffer: Option<usize>) -> TcpOptions {
    let mut options = TcpOptions::default();
    options.loopback_send_buffer = loopback_send_buffer;
    options
}

async fn echo_once(channel: &weir_rt::Channel) {
    let reply = channel
        .unary("/test.Echo/Say", Request::new(Bytes::from_static(b"ping")))
        .await
        .expect("the call over the tuned connection");
    assert_eq!(reply.into_inner(), Bytes::from_static(b"ping"));
}

#[tokio::test]
async fn server_and_channel_pass_their_tcp_options_to_the_runtime() {
    let rt = Recording::default();
    let server = Server::new(rt.clone())
        .route("/test.Echo/Say", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
        .loopback_send_buffer(Some(64 << 10))
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    assert_eq!(rt.take(), [("bind", options(Some(64 << 10)))]);
    tokio::spawn(server.serve());

    let default = Endpoint::with_runtime(rt.clone(), &url).unwrap().connect().await.unwrap();
    echo_once(&default).await;
    assert_eq!(rt.take(), [("connect", options(Some(DEFAULT_LOOPBACK_SEND_BUFFER)))]);

    let autotuned =
        Endpoint::with_runtime(rt.clone(), &url).unwrap().loopback_send_buffer(None).connect().await.unwrap();
    echo_once(&autotuned).await;
    assert_eq!(rt.take(), [("connect", options(None))]);
}
