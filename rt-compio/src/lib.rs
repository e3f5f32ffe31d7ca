//! # weir-compio
//!
//! Weir on [compio](https://github.com/compio-rs/compio): completion-based
//! I/O, io_uring on Linux. Its runtime is one thread with its own ring, so
//! the natural server is thread-per-core: [`serve_per_core`] starts one
//! runtime per core, each with its own listening socket on the same port
//! (`SO_REUSEPORT`: the kernel spreads connections), and nothing is shared
//! between them; every connection, call and timer stays on the thread that
//! accepted it.
//!
//! compio's sockets and futures are tied to their thread (they are not
//! `Send`), while weir-rt's traits ask for `Send`. The adapter carries them
//! in [`send_wrapper::SendWrapper`]: tasks never move between threads here,
//! and the wrapper checks that at every use (a misuse panics). Use servers,
//! endpoints and channels from threads running a compio runtime
//! ([`block_on`], [`serve_per_core`]); a channel's connections run on the
//! thread whose call opened them.
//!
//! ```no_run
//! use weir_compio::{Compio, Method, Response, Server};
//! weir_compio::serve_per_core(2, |rt: Compio, _core| async move {
//!     Server::new(rt)
//!         .route("/echo.Echo/Say", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
//!         .serve("127.0.0.1:50051".parse().unwrap())
//!         .await
//! })
//! .unwrap();
//! ```

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use send_wrapper::SendWrapper;
use weir_rt::runtime::{BoxFuture, ChunkedBuf, Io, Listener, Net, PeerInfo, Runtime, Timer};

pub use weir_rt::adapter::FuturesIo;
pub use weir_rt::*;

/// The compio runtime handle: spawns on the compio runtime of the calling
/// thread (every Weir task runs inside one). With [`Compio::per_core`] its
/// listeners set `SO_REUSEPORT`, so one listener per thread can share a port.
#[derive(Clone, Copy, Debug, Default)]
pub struct Compio {
    reuse_port: bool,
}

impl Compio {
    /// A handle whose listeners share their port with the other threads'
    /// (`SO_REUSEPORT`).
    pub fn per_core() -> Self {
        Compio { reuse_port: true }
    }
}

/// A gRPC server on compio.
pub type Server = weir_rt::Server<Compio>;
/// A server bound to its address.
pub type BoundServer = weir_rt::BoundServer<Compio>;
/// A client endpoint on compio; `connect` gives a [`Channel`].
pub type Endpoint = weir_rt::Endpoint<Compio>;

/// A thread-bound future, pollable where `Send` is required (on its thread).
struct Local<T>(SendWrapper<Pin<Box<dyn Future<Output = T>>>>);

impl<T> Local<T> {
    fn new(fut: impl Future<Output = T> + 'static) -> Self {
        Local(SendWrapper::new(Box::pin(fut)))
    }
}

impl<T> Future for Local<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.0.as_mut().poll(cx)
    }
}

/// compio's timer, resettable, and ready whenever polled after its instant.
pub struct CompioTimer {
    at: Instant,
    sleep: Option<Local<()>>,
}

impl Future for CompioTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        if now >= self.at {
            self.sleep = None;
            return Poll::Ready(());
        }
        let at = self.at;
        let sleep = self.sleep.get_or_insert_with(|| Local::new(compio::time::sleep(at - now)));
        Pin::new(sleep).poll(cx)
    }
}

impl Timer for CompioTimer {
    fn reset(&mut self, at: Instant) {
        if at != self.at {
            self.at = at;
            self.sleep = None;
        }
    }
}

impl Runtime for Compio {
    type Timer = CompioTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        assert!(
            compio::runtime::Runtime::try_current().is_some(),
            "weir-compio: Weir's tasks run on compio runtimes: use servers, endpoints and channels \
             from a thread inside `weir_compio::block_on` or `serve_per_core`"
        );
        compio::runtime::spawn(fut).detach();
    }

    fn timer(&self, at: Instant) -> CompioTimer {
        CompioTimer { at, sleep: None }
    }
}

/// A compio socket as weir-rt's `Io`, on its own thread. Completion I/O
/// lends buffers to the kernel, so each direction owns its buffers. Reads:
/// one in flight, into a buffer handed over whole when the caller's is empty
/// (else copied). Writes: one vectored write in flight, of the transport's
/// own chunks taken without a copy (`Io::poll_write_chunks`; borrowed slices,
/// a TLS layer's, are copied once), while what comes next queues behind it
/// (up to [`WRITE_QUEUE`], then writes wait: the backpressure), so producing
/// output never waits for a completion. A
/// socket dropped with output left (a TLS alert written as a handshake gives
/// up) writes it in a last task of its own, for at most [`LAST_FLUSH`], on
/// runtimes [`block_on`] and [`serve_per_core`] run.
struct Socket(SendWrapper<Sock>);

type Op<T, B = BytesMut> = Pin<Box<dyn Future<Output = compio::buf::BufResult<T, B>>>>;
/// A vectored write of owned chunks, which gives them back.
type WriteOp = Op<(), Vec<Bytes>>;

struct Sock {
    /// The size of the next read: twice the last one, within
    /// [`MIN_READ`]..=[`MAX_READ`] (an idle connection's read in flight
    /// holds a small buffer, a busy one's a large buffer).
    next_read: usize,
    read_op: Option<Op<usize>>,
    read_buf: Option<BytesMut>,
    write: Writes,
    reader: Box<dyn Fn(BytesMut) -> Op<usize>>,
    shutdown: Box<dyn Fn() -> io::Result<()>>,
}

/// The write side: the write in flight and what queues behind it, as
/// owned chunks (message payloads are taken, not copied).
struct Writes {
    op: Option<WriteOp>,
    queued: std::collections::VecDeque<Bytes>,
    /// Octets in `queued`.
    queued_len: usize,
    /// A finished write's chunk list, for the next.
    spare: Vec<Bytes>,
    writer: Box<dyn Fn(Vec<Bytes>) -> WriteOp>,
}

/// The largest read.
const MAX_READ: usize = 256 << 10;
/// The smallest read.
const MIN_READ: usize = 4 << 10;
/// Output queued behind the write in flight before writes wait.
const WRITE_QUEUE: usize = 1 << 20;
/// Chunks one write takes at most (the kernel's IOV_MAX is 1024).
const MAX_WRITE_CHUNKS: usize = 512;
/// How long a dropped socket may take to write what it still holds.
const LAST_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

fn socket<S>(s: S) -> Socket
where
    S: std::os::fd::AsFd + 'static,
    for<'a> &'a S: compio::io::AsyncRead + compio::io::AsyncWrite,
{
    use compio::io::{AsyncRead, AsyncWriteExt};
    let s = Rc::new(s);
    let (r, w, d) = (s.clone(), s.clone(), s);
    Socket(SendWrapper::new(Sock {
        next_read: MIN_READ,
        read_op: None,
        read_buf: None,
        write: Writes {
            op: None,
            queued: std::collections::VecDeque::new(),
            queued_len: 0,
            spare: Vec::new(),
            writer: Box::new(move |chunks| {
                let s = w.clone();
                Box::pin(async move { (&*s).write_vectored_all(chunks).await })
            }),
        },
        reader: Box::new(move |buf| {
            let s = r.clone();
            Box::pin(async move { (&*s).read(buf).await })
        }),
        shutdown: Box::new(move || socket2::SockRef::from(&*d).shutdown(std::net::Shutdown::Write)),
    }))
}

impl Writes {
    /// Ready when more output may queue (the write in flight wakes us).
    fn room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(Err(e)) = self.pump(cx) {
            return Poll::Ready(Err(e));
        }
        if self.queued_len >= WRITE_QUEUE { Poll::Pending } else { Poll::Ready(Ok(())) }
    }

    fn queue(&mut self, chunk: Bytes) {
        self.queued_len += chunk.len();
        self.queued.push_back(chunk);
    }

    /// Moves output along: finishes the write in flight and starts the next
    /// with what queued. Ready once everything is written.
    fn pump(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(op) = self.op.as_mut() {
                let compio::buf::BufResult(result, mut chunks) = std::task::ready!(op.as_mut().poll(cx));
                self.op = None;
                chunks.clear();
                self.spare = chunks;
                result?;
            }
            if self.queued.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let mut chunks = std::mem::take(&mut self.spare);
            let n = self.queued.len().min(MAX_WRITE_CHUNKS);
            chunks.extend(self.queued.drain(..n));
            self.queued_len -= chunks.iter().map(Bytes::len).sum::<usize>();
            self.op = Some((self.writer)(chunks));
        }
    }
}

impl Io for Socket {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let s = &mut *self.0;
        if s.read_op.is_none() {
            let mut mine = s.read_buf.take().unwrap_or_default();
            mine.clear();
            mine.reserve(s.next_read);
            s.read_op = Some((s.reader)(mine));
        }
        let op = s.read_op.as_mut().expect("a read in flight");
        let compio::buf::BufResult(result, mut mine) = std::task::ready!(op.as_mut().poll(cx));
        s.read_op = None;
        let n = match result {
            Ok(n) => n,
            Err(e) => {
                s.read_buf = Some(mine);
                return Poll::Ready(Err(e));
            }
        };
        s.next_read = (n * 2).clamp(MIN_READ, MAX_READ);
        if buf.is_empty() && n > 0 {
            // The caller's empty buffer becomes the next read's.
            std::mem::swap(buf, &mut mine);
        } else {
            buf.extend_from_slice(&mine);
        }
        if mine.capacity() <= MAX_READ {
            s.read_buf = Some(mine);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let w = &mut self.0.write;
        std::task::ready!(w.room(cx))?;
        // Borrowed slices (a TLS layer's records): copied once.
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        let mut copy = BytesMut::with_capacity(n);
        bufs.iter().for_each(|b| copy.extend_from_slice(b));
        w.queue(copy.freeze());
        if let Poll::Ready(Err(e)) = w.pump(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_chunks(&mut self, cx: &mut Context<'_>, out: &mut ChunkedBuf) -> Poll<io::Result<usize>> {
        let w = &mut self.0.write;
        std::task::ready!(w.room(cx))?;
        // The transport's own chunks: taken, not copied.
        let n = out.take_chunks(&mut w.queued);
        w.queued_len += n;
        if let Poll::Ready(Err(e)) = w.pump(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.write.pump(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.0.write.pump(cx))?;
        Poll::Ready((self.0.shutdown)())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Dropped on another thread (a misuse), nothing here may be touched.
        if !self.0.valid() {
            return;
        }
        let w = &mut self.0.write;
        if w.op.is_none() && w.queued.is_empty() {
            return;
        }
        let rest = Writes {
            op: w.op.take(),
            queued: std::mem::take(&mut w.queued),
            queued_len: std::mem::take(&mut w.queued_len),
            spare: Vec::new(),
            writer: std::mem::replace(&mut w.writer, Box::new(|_| unreachable!("moved to the last writes"))),
        };
        // No spawning here (a drop may come while compio clears its tasks):
        // the runtime's flusher, if this thread runs one, takes it.
        LAST_WRITES.with(|l| {
            let mut l = l.borrow_mut();
            if let Some(last) = l.as_mut() {
                last.pending.push((Instant::now() + LAST_FLUSH, rest));
                if let Some(w) = last.waker.take() {
                    w.wake();
                }
            }
        });
    }
}

/// Writes of dropped sockets still finishing, for this thread's flusher.
struct LastWrites {
    pending: Vec<(Instant, Writes)>,
    waker: Option<std::task::Waker>,
}

thread_local! {
    /// Set while a runtime of [`block_on`] runs its future on this thread
    /// (its flusher task takes them); `None` otherwise, and leftovers drop.
    static LAST_WRITES: std::cell::RefCell<Option<LastWrites>> = const { std::cell::RefCell::new(None) };
}

/// The task that finishes the writes of dropped sockets, each for at most
/// [`LAST_FLUSH`]; it lives as long as its runtime.
async fn flusher() {
    let mut mine: Vec<(Instant, Writes)> = Vec::new();
    let mut timer: Option<CompioTimer> = None;
    std::future::poll_fn(|cx| {
        LAST_WRITES.with(|l| {
            if let Some(last) = l.borrow_mut().as_mut() {
                mine.append(&mut last.pending);
                last.waker = Some(cx.waker().clone());
            }
        });
        let now = Instant::now();
        mine.retain_mut(|(until, w)| *until > now && w.pump(cx).is_pending());
        if let Some(first) = mine.iter().map(|(until, _)| *until).min() {
            let t = timer.get_or_insert_with(|| CompioTimer { at: first, sleep: None });
            t.reset(first);
            let _ = Pin::new(t).poll(cx);
        }
        Poll::<()>::Pending
    })
    .await
}

/// A TCP listener, on the thread that bound it.
struct TcpListener {
    listener: SendWrapper<Rc<compio::net::TcpListener>>,
    local: SocketAddr,
    options: TcpOptions,
}

impl Listener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        let (listener, options) = (Rc::clone(&self.listener), self.options);
        Box::pin(Local::new(async move {
            let (s, addr) = listener.accept().await?;
            options.apply(socket2::SockRef::from(&s), addr)?;
            let io = Box::new(socket(s)) as Box<dyn Io>;
            Ok((io, PeerInfo { addr: Some(addr), ..PeerInfo::default() }))
        }))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local)
    }
}

/// A Unix domain socket listener, on the thread that bound it.
#[cfg(unix)]
struct UnixListener(SendWrapper<Rc<compio::net::UnixListener>>);

#[cfg(unix)]
impl Listener for UnixListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        let listener = Rc::clone(&self.0);
        Box::pin(Local::new(async move {
            let (s, _) = listener.accept().await?;
            Ok((Box::new(socket(s)) as Box<dyn Io>, PeerInfo::default()))
        }))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

impl Compio {
    fn listen(&self, addr: SocketAddr, options: &TcpOptions) -> io::Result<std::net::TcpListener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(options.backlog().min(i32::MAX as u32) as i32)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    }
}

impl Net for Compio {
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let bound = self.listen(addr, &options).and_then(|l| {
            let local = l.local_addr()?;
            let listener = SendWrapper::new(Rc::new(compio::net::TcpListener::from_std(l)?));
            Ok(Box::new(TcpListener { listener, local, options }) as Box<dyn Listener>)
        });
        Box::pin(async move { bound })
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        Box::pin(Local::new(async move {
            let s = compio::net::TcpStream::connect(addr).await?;
            options.apply(socket2::SockRef::from(&s), addr)?;
            Ok(Box::new(socket(s)) as Box<dyn Io>)
        }))
    }

    #[cfg(unix)]
    fn bind_unix(&self, path: &std::path::Path) -> io::Result<Box<dyn Listener>> {
        let l = std::os::unix::net::UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        let listener = compio::net::UnixListener::from_std(l)?;
        Ok(Box::new(UnixListener(SendWrapper::new(Rc::new(listener)))))
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: &std::path::Path) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let path = path.to_owned();
        Box::pin(Local::new(async move {
            Ok(Box::new(socket(compio::net::UnixStream::connect(path).await?)) as Box<dyn Io>)
        }))
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        Box::pin(Local::new(async move {
            compio::runtime::spawn_blocking(move || Ok((host.as_str(), port).to_socket_addrs()?.collect()))
                .await
                .unwrap_or_else(|_| Err(io::Error::other("name resolution panicked")))
        }))
    }

    #[cfg(feature = "tls")]
    fn tls_accept(
        &self,
        io: Box<dyn Io>,
        config: Arc<tls::rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, runtime::TlsInfo)>> {
        adapter::tls_accept(io, config)
    }

    #[cfg(feature = "tls")]
    fn tls_connect(
        &self,
        io: Box<dyn Io>,
        config: Arc<tls::rustls::ClientConfig>,
        server_name: tls::rustls::pki_types::ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, runtime::TlsInfo)>> {
        adapter::tls_connect(io, config, server_name)
    }
}

/// Runs `future` on a new compio runtime on the calling thread until it
/// ends; then the runtime and every task left on it are dropped.
pub fn block_on<T>(future: impl Future<Output = T>) -> io::Result<T> {
    let mut ring = compio::driver::ProactorBuilder::new();
    // One thread submits and reaps (SINGLE_ISSUER), completions are run when
    // the loop asks for them (DEFER_TASKRUN) rather than by interrupting it
    // (COOP_TASKRUN): without these, every completion an other core causes
    // is an inter-processor interrupt into this loop.
    ring.single_issuer(true).defer_taskrun(true).coop_taskrun(true);
    let rt = compio::runtime::Runtime::builder().with_proactor(ring).build()?;
    let out = rt.block_on(async {
        // Unset when this future ends or unwinds: before compio drops its
        // tasks, so no socket dropped then hands anything over.
        let _flushing = LastWritesGuard::install();
        compio::runtime::spawn(flusher()).detach();
        future.await
    });
    drop(rt);
    Ok(out)
}

/// Installs this thread's [`LAST_WRITES`] for as long as it lives.
struct LastWritesGuard;

impl LastWritesGuard {
    fn install() -> Self {
        LAST_WRITES.with(|l| *l.borrow_mut() = Some(LastWrites { pending: Vec::new(), waker: None }));
        LastWritesGuard
    }
}

impl Drop for LastWritesGuard {
    fn drop(&mut self) {
        let left = LAST_WRITES.with(|l| l.borrow_mut().take());
        drop(left);
    }
}

/// Thread-per-core: runs `serve(Compio::per_core(), core)` on `threads`
/// threads, each with its own compio runtime (its own io_uring), and returns
/// once all have ended (the first error, if any). Servers bound inside share
/// their port (`SO_REUSEPORT`), so the kernel spreads connections across the
/// threads and each connection lives on one. The cores are independent: one
/// that fails (its bind, say) does not stop the others, so give every core's
/// server the same shutdown signal.
pub fn serve_per_core<F, Fut>(threads: usize, serve: F) -> io::Result<()>
where
    F: Fn(Compio, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + 'static,
{
    let serve = std::sync::Arc::new(serve);
    let handles: Vec<_> = (0..threads.max(1))
        .map(|core| {
            let serve = serve.clone();
            std::thread::Builder::new()
                .name(format!("weir-compio-{core}"))
                .spawn(move || block_on(serve(Compio::per_core(), core)).and_then(|r| r))
        })
        .collect::<io::Result<_>>()?;
    let mut first = Ok(());
    for h in handles {
        let r = h.join().unwrap_or_else(|_| Err(io::Error::other("a core's thread panicked")));
        if first.is_ok() {
            first = r;
        }
    }
    first
}
