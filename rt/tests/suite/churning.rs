//! Bursts and connection churn (issue 26): a burst of calls on a fresh
//! channel over a slow link, connections cut under a steady call rate, a
//! burst of connects, and what a call says when its connection breaks.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint};

use super::{req, start, test_server};

/// A TCP proxy on threads of its own: each direction delivers every chunk
/// `delay` after reading it; `cut` closes every connection at once, both
/// sides, as a failing middlebox or a crashed peer would.
pub struct Proxy {
    pub addr: SocketAddr,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, a, st) = (sockets.clone(), accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                for sock in [&client, &server] {
                    let _ = sock.set_nodelay(true);
                    s.lock().unwrap().push(sock.try_clone().expect("clone"));
                }
                pipe(client.try_clone().expect("clone"), server.try_clone().expect("clone"), delay);
                pipe(server, client, delay);
            }
        });
        Proxy { addr, sockets, accepted, stop }
    }

    /// Closes every connection through the proxy, both sides.
    pub fn cut(&self) {
        for s in self.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Connections the proxy accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read (a reader
/// thread and a writer thread; both end when either side closes). Chunks
/// that arrive while one waits are delivered with it.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((at, mut chunk)) = rx.recv() {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            // Everything due by now goes in one write, as a link delivers a
            // burst: the receiver sees it all at once.
            while let Ok((_, more)) = rx.try_recv() {
                chunk.extend_from_slice(&more);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// 2,000 calls start at once on a fresh channel whose link adds 25 ms each
/// way, so the calls are issued before the server's SETTINGS (limit: 256
/// streams) can arrive. The client opens at most 100 streams until then (as
/// gRPC-Go does) and queues the rest; none is refused, none fails, and the
/// server does not cut the connection off.
pub async fn burst_on_a_fresh_channel_through_a_slow_link<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let proxy = Proxy::start(server.addr.unwrap(), Duration::from_millis(25));
    let ch = Endpoint::<R>::with_runtime(rt.clone(), format!("http://{}", proxy.addr))
        .unwrap()
        .connect_lazy()
        .unwrap();
    let calls = (0..2000u32).map(|i| ch.unary("/test.Test/Unary", req(i.to_be_bytes().to_vec())));
    let results = futures::future::join_all(calls).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} of 2000 failed, first: {:?}", failed.len(), failed.first());
    assert_eq!(proxy.connections(), 1, "one connection carried the burst");
    server.stop().await;
}

/// 1,000 calls one after the other while every connection is cut every 20
/// calls (between calls): the call after a cut may be given to the
/// connection that just died, before its driver noticed. It never left (or
/// never got its HEADERS out), so it is retried transparently: no call fails.
pub async fn cut_connections_fail_no_call<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let proxy = Proxy::start(server.addr.unwrap(), Duration::ZERO);
    let ch = Endpoint::<R>::with_runtime(rt.clone(), format!("http://{}", proxy.addr))
        .unwrap()
        .connect_lazy()
        .unwrap();
    let mut failures = Vec::new();
    for i in 0..1000u32 {
        if i % 20 == 10 {
            proxy.cut();
        }
        if let Err(status) = ch.unary("/test.Test/Unary", req(i.to_be_bytes().to_vec())).await {
            failures.push((i, status));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 1000 calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(proxy.connections() >= 45, "each cut forced a new connection: {}", proxy.connections());
    server.stop().await;
}

/// 500 connects at the same moment all complete within 200 ms: the server
/// listens with the system's maximum backlog, so the kernel completes and
/// queues them however fast the server accepts (a short backlog drops SYNs,
/// which are resent only after a second).
pub async fn accept_burst_connects_promptly<R: Net>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let addr = server.addr.unwrap();
    const CONNECTS: usize = 500;
    let (done, slowest) = oneshot::channel();
    std::thread::spawn(move || {
        let start = Arc::new(Barrier::new(CONNECTS));
        let threads: Vec<_> = (0..CONNECTS)
            .map(|_| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let t0 = Instant::now();
                    let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
                    (t0.elapsed(), conn)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().expect("connect thread")).collect();
        let failed = results.iter().filter(|(_, c)| c.is_err()).count();
        let slowest = results.iter().map(|(d, _)| *d).max().unwrap_or_default();
        let _ = done.send((failed, slowest));
    });
    let (failed, slowest) = slowest.await.expect("the connects ran");
    assert_eq!(failed, 0, "every connect succeeded");
    assert!(slowest < Duration::from_millis(200), "the slowest connect took {slowest:?}");
    server.stop().await;
}

/// A fake server that accepts, reads what the client sends first, then
/// closes the connection: with a FIN, or with a reset (`SO_LINGER` 0).
fn abrupt_server(reset: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        // The client tries twice (the first failure may be retried transparently).
        for _ in 0..2 {
            let Ok((mut conn, _)) = listener.accept() else { return };
            // Our SETTINGS, so the client sends its call before the end;
            // then everything it sends is read (closing with unread input
            // would reset the connection instead of closing it).
            let _ = conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 4096];
            while let Ok(1..) = conn.read(&mut buf) {}
            if reset {
                let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
            }
            drop(conn);
        }
    });
    addr
}

/// A call whose connection ends abruptly says how it ended, in words: the
/// peer closed it without GOAWAY, or reset it.
pub async fn abrupt_close_errors_say_what_happened<R: Net + Default>(rt: R) {
    for (reset, expected) in [(false, "without GOAWAY"), (true, "reset by")] {
        let addr = abrupt_server(reset);
        let ch = Endpoint::<R>::with_runtime(rt.clone(), format!("http://{addr}"))
            .unwrap()
            .connect_lazy()
            .unwrap();
        let err = ch.unary("/test.Test/Unary", req(&b"x"[..])).await.expect_err("the server hung up");
        assert_eq!(err.code, Code::Unavailable, "{err:?}");
        assert!(err.message.contains(expected), "{expected:?} not in {:?}", err.message);
        assert!(!err.message.contains("NO_ERROR"), "no protocol jargon: {:?}", err.message);
    }
}
