//! One task per client connection: owns the gRPC client core, starts calls
//! the channel hands it, relays messages and statuses to call handles.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use weir_core::grpc::{
    self, CallId, ClientEvent, Code, Metadata, Received, RecvBatch, Room, Status, WireBytes,
};

use super::outlier::Outcomes;
use crate::call::{CLIENT_QUEUE_SHARE, CallShared, MESSAGE_COST, queue_limit, queue_room};
use crate::queue::CommandQueue;
use crate::request::{CallLink, OutMessage};
use crate::runtime::{Io, Runtime};
use crate::stats::{Side, StatsHandler};
use crate::trace::{CallObserver, ConnObserver};
use crate::transport::Transport;
use crate::util::{IdMap, remove_id};

/// What every connection of one channel shares.
pub(crate) struct ChannelCtx {
    /// Reports connections and calls.
    pub stats: Option<Arc<dyn StatsHandler>>,
    /// The channel's target, as given to its endpoint (for stats).
    pub target: Arc<str>,
    /// The keepalive time of new connections: the configured one, doubled
    /// each time a server closes a connection for `too_many_pings` (gRPC-Go).
    keepalive: Mutex<Option<Duration>>,
}

impl ChannelCtx {
    /// The context of a channel with these settings.
    pub fn new(
        stats: Option<Arc<dyn StatsHandler>>,
        target: Arc<str>,
        keepalive: Option<Duration>,
    ) -> Arc<Self> {
        Arc::new(ChannelCtx { stats, target, keepalive: Mutex::new(keepalive) })
    }

    /// The keepalive time new connections use.
    pub fn keepalive(&self) -> Option<Duration> {
        *self.keepalive.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A server said `too_many_pings` to a connection pinging every `used`:
    /// later connections ping half as often.
    fn back_off_keepalive(&self, used: Option<Duration>) {
        let mut current = self.keepalive.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(used), Some(now)) = (used, *current) else { return };
        let doubled = used.saturating_mul(2);
        if doubled > now {
            *current = Some(doubled);
        }
        #[cfg(feature = "tracing")]
        tracing::warn!(
            keepalive = ?current.unwrap_or(doubled),
            "server sent GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\": keepalive time doubled"
        );
    }
}

/// Requests from call handles to their connection's driver. Calls are named
/// by a key the handle picks (the stream id is only known to the driver).
pub(crate) enum ClientCmd {
    Start {
        key: u64,
        req: grpc::CallRequest,
        shared: Arc<CallShared>,
        first: Option<Bytes>,
        last: bool,
    },
    Send {
        key: u64,
        msg: OutMessage,
        last: bool,
    },
    HalfClose {
        key: u64,
    },
    Pull {
        key: u64,
    },
    Cancel {
        key: u64,
    },
    /// Nothing will start calls here any more (its address was dropped or
    /// the channel is gone): close once the calls in flight end.
    Shutdown,
}

impl ClientCmd {
    fn key(&self) -> u64 {
        match self {
            ClientCmd::Start { key, .. }
            | ClientCmd::Send { key, .. }
            | ClientCmd::HalfClose { key }
            | ClientCmd::Pull { key }
            | ClientCmd::Cancel { key } => *key,
            ClientCmd::Shutdown => 0,
        }
    }
}

/// A connection driver taking [`ClientCmd`]s (HTTP/2, and gRPC-Web over
/// HTTP/1.1): drains its handle's queue into `on_cmd`, with one lock.
pub(crate) trait TakesCommands {
    /// The handle whose queue to drain, and the reused drain buffer.
    fn queue(&mut self) -> (&ConnHandle, &mut Vec<ClientCmd>);
    fn take_command(&mut self, cmd: ClientCmd);

    /// Runs every queued command; false when none were queued.
    fn run_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let (handle, buf) = self.queue();
        let mut cmds = std::mem::take(buf);
        let ready = handle.cmds.poll_drain(cx, &mut cmds).is_ready();
        for cmd in cmds.drain(..) {
            self.take_command(cmd);
        }
        *self.queue().1 = cmds;
        ready
    }
}

/// What a channel holds of a live connection.
pub(crate) struct ConnHandle {
    pub cmds: Arc<CommandQueue<ClientCmd>>,
    /// Set by the driver: the connection ended.
    pub closed: AtomicBool,
    /// Cleared by the driver on GOAWAY or stream-id exhaustion.
    pub accepting: AtomicBool,
    /// The health watch's verdict (`health_check::health`); SERVING when
    /// health checking is off.
    pub health: std::sync::atomic::AtomicU8,
    /// Calls running or waiting for a stream, as the driver last saw (the
    /// channel's idle timer reads it).
    pub active_calls: std::sync::atomic::AtomicUsize,
    /// Application calls picked for this connection and not yet dropped
    /// (`least_request`'s measure).
    pub outstanding: std::sync::atomic::AtomicUsize,
    /// Where its application calls' outcomes are counted (its address's,
    /// for outlier detection).
    pub outcomes: Arc<Outcomes>,
    next_key: AtomicU64,
}

impl ConnHandle {
    pub fn new(outcomes: Arc<Outcomes>) -> Arc<Self> {
        Arc::new(ConnHandle {
            outcomes,
            cmds: CommandQueue::new(),
            closed: AtomicBool::new(false),
            accepting: AtomicBool::new(true),
            health: std::sync::atomic::AtomicU8::new(super::health_check::health::SERVING),
            active_calls: std::sync::atomic::AtomicUsize::new(0),
            outstanding: std::sync::atomic::AtomicUsize::new(0),
            next_key: AtomicU64::new(1),
        })
    }

    /// True while new calls may start on this connection.
    pub fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
            && self.accepting.load(Ordering::Acquire)
            && !self.cmds.is_closed()
    }

    pub fn next_key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }
}

/// A call's link to its driver.
pub(crate) struct ClientLink {
    pub conn: Arc<ConnHandle>,
    pub key: u64,
    /// An application call: counted in the connection's `outstanding`
    /// calls until dropped, its outcome then in `outcomes`.
    counted: Option<Arc<CallShared>>,
}

impl ClientLink {
    /// A link the balancer counts (`ConnHandle::outstanding`) while it
    /// lives, and whose outcome outlier detection counts.
    pub fn counted(conn: Arc<ConnHandle>, key: u64, call: &Arc<CallShared>) -> Self {
        conn.outstanding.fetch_add(1, Ordering::AcqRel);
        ClientLink { conn, key, counted: Some(call.clone()) }
    }

    /// A link of the channel's own (health checks), not counted.
    pub fn uncounted(conn: Arc<ConnHandle>, key: u64) -> Self {
        ClientLink { conn, key, counted: None }
    }
}

impl Drop for ClientLink {
    fn drop(&mut self) {
        if let Some(call) = &self.counted {
            self.conn.outstanding.fetch_sub(1, Ordering::AcqRel);
            // A call the application dropped before its end counts for
            // nothing.
            if let Some(ok) = call.finished_ok() {
                self.conn.outcomes.record(ok);
            }
        }
    }
}

impl CallLink for ClientLink {
    fn pull(&self) {
        let _ = self.conn.cmds.push(ClientCmd::Pull { key: self.key });
    }
    fn cancel(&self) {
        let _ = self.conn.cmds.push(ClientCmd::Cancel { key: self.key });
    }
}

struct Entry {
    key: u64,
    shared: Arc<CallShared>,
    /// Messages waiting for the stream to accept them: (bytes, last, credited).
    out: VecDeque<(OutMessage, bool, bool)>,
    half_close: bool,
    /// Spans and stats, when anyone listens.
    obs: Option<Box<CallObserver>>,
}

/// The per-connection driver future.
pub(crate) struct ClientDriver<R: Runtime> {
    rt: R,
    transport: Transport<R>,
    core: grpc::Client,
    handle: Arc<ConnHandle>,
    cmd_buf: Vec<ClientCmd>,
    keys: IdMap<u64, CallId>,
    calls: IdMap<CallId, Entry>,
    /// Starts waiting for a stream slot.
    waiting: VecDeque<ClientCmd>,
    ctx: Arc<ChannelCtx>,
    obs: ConnObserver,
    /// The keepalive time of this connection.
    keepalive: Option<Duration>,
    told_too_many_pings: bool,
    /// A reused buffer for response messages on their way to a call.
    batch: Received,
}

impl<R: Runtime> ClientDriver<R> {
    pub fn new(
        rt: R,
        io: Box<dyn Io>,
        mut config: grpc::ClientConfig,
        handle: Arc<ConnHandle>,
        ctx: Arc<ChannelCtx>,
        peer: Option<std::net::SocketAddr>,
    ) -> Self {
        let now = rt.now();
        let keepalive = ctx.keepalive();
        config.h2.keepalive_interval = keepalive;
        ClientDriver {
            transport: Transport::new(rt.clone(), io),
            core: grpc::Client::new(config, now),
            obs: ConnObserver::open(
                Side::Client,
                (peer, None),
                Some(ctx.target.clone()),
                ctx.stats.clone(),
                now,
            ),
            ctx,
            keepalive,
            told_too_many_pings: false,
            rt,
            handle,
            cmd_buf: Vec::new(),
            keys: IdMap::default(),
            calls: IdMap::default(),
            waiting: VecDeque::new(),
            batch: Received::new(),
        }
    }

    fn on_cmd(&mut self, cmd: ClientCmd) {
        if let ClientCmd::Shutdown = cmd {
            return self.core.shutdown(self.rt.now());
        }
        let key = cmd.key();
        let queued =
            !matches!(cmd, ClientCmd::Start { .. }) && !self.keys.contains_key(&key) && self.is_waiting(key);
        if queued {
            // The call waits for a stream slot: its later commands wait with it,
            // in order, except a cancellation, which drops it.
            if let ClientCmd::Cancel { .. } = cmd {
                self.drop_waiting(key);
            } else {
                self.waiting.push_back(cmd);
            }
            return;
        }
        match cmd {
            ClientCmd::Start { .. } => {
                if self.waiting.is_empty() {
                    self.start(cmd);
                } else {
                    self.waiting.push_back(cmd);
                }
            }
            ClientCmd::Send { key, msg, last } => {
                if let Some(entry) = self.entry(key) {
                    entry.out.push_back((msg, last, true));
                    self.flush(key);
                }
            }
            ClientCmd::HalfClose { key } => {
                if let Some(entry) = self.entry(key) {
                    entry.half_close = true;
                    self.flush(key);
                }
            }
            ClientCmd::Pull { key } => {
                if let Some(&call) = self.keys.get(&key) {
                    self.pump(call, false);
                }
            }
            ClientCmd::Cancel { key } => {
                if let Some(call) = remove_id(&mut self.keys, &key) {
                    let wire = self.core.wire_bytes(call).unwrap_or_default();
                    self.core.cancel(call);
                    if let Some(e) = remove_id(&mut self.calls, &call) {
                        let status = Status::new(Code::Cancelled, "call cancelled");
                        if let Some(obs) = e.obs {
                            obs.end(status.code, &status.message, wire, self.rt.now());
                        }
                        e.shared.finish(status, Metadata::new());
                    }
                }
            }
            ClientCmd::Shutdown => {}
        }
    }

    fn entry(&mut self, key: u64) -> Option<&mut Entry> {
        let call = self.keys.get(&key)?;
        self.calls.get_mut(call)
    }

    fn is_waiting(&self, key: u64) -> bool {
        self.waiting.iter().any(|c| matches!(c, ClientCmd::Start { key: k, .. } if *k == key))
    }

    fn drop_waiting(&mut self, key: u64) {
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for c in self.waiting.drain(..) {
            match c {
                ClientCmd::Start { key: k, shared, .. } if k == key => {
                    shared.finish(Status::new(Code::Cancelled, "call cancelled"), Metadata::new());
                }
                c if c.key() == key => {}
                c => kept.push_back(c),
            }
        }
        self.waiting = kept;
    }

    fn start(&mut self, cmd: ClientCmd) {
        let ClientCmd::Start { key, req, shared, first, last } = cmd else {
            return self.on_cmd(cmd);
        };
        if !self.core.can_start_call()
            && self.core.h2().is_open()
            && self.handle.accepting.load(Ordering::Acquire)
        {
            // All stream slots taken: wait for one.
            self.waiting.push_back(ClientCmd::Start { key, req, shared, first, last });
            return;
        }
        let now = self.rt.now();
        let obs = self.obs.call(&req.path, &req.path, now);
        match self.core.start_call(now, req) {
            Ok(call) => {
                self.keys.insert(key, call);
                let mut entry = Entry { key, shared, out: VecDeque::new(), half_close: last, obs };
                if let Some(msg) = first {
                    entry.out.push_back((msg.into(), last, false));
                }
                self.calls.insert(call, entry);
                self.flush(key);
            }
            Err(status) => {
                if let Some(obs) = obs {
                    obs.end(status.code, &status.message, WireBytes::default(), now);
                }
                shared.finish(status, Metadata::new())
            }
        }
    }

    /// Starts waiting calls while slots are free.
    fn start_waiting(&mut self) {
        while self.core.can_start_call() {
            let Some(cmd) = self.waiting.pop_front() else { return };
            match cmd {
                ClientCmd::Start { .. } => self.start(cmd),
                other => self.on_cmd(other),
            }
        }
    }

    /// Hands queued messages to the core while the stream accepts them.
    fn flush(&mut self, key: u64) {
        let Some(&call) = self.keys.get(&key) else { return };
        loop {
            let Some(entry) = self.calls.get_mut(&call) else { return };
            let Some((_, last, _)) = entry.out.front() else { break };
            if !self.core.poll_writable(call) {
                return;
            }
            let last = *last;
            let Some((msg, _, credited)) = entry.out.pop_front() else { return };
            let (len, count) = (msg.len(), msg.messages());
            let shared = entry.shared.clone();
            let compress = msg.compress;
            let batch = msg.batch;
            let sent = match batch {
                Some(_) => self.core.send_framed_checked(call, msg.data, batch, last),
                // The client core takes one buffer: a message in parts is joined.
                None => self.core.send_message_with(call, msg.into_contiguous(), compress, last),
            };
            if last {
                entry.half_close = false;
            }
            if let Some(obs) = &mut entry.obs
                && sent.is_ok()
            {
                match batch {
                    Some(b) => obs.sent_many(b.messages(), b.payload() as usize),
                    None => obs.sent(len),
                }
            }
            if credited {
                shared.credit(len, count);
            }
            if let Err(status) = sent {
                let wire = self.core.wire_bytes(call).unwrap_or_default();
                self.core.cancel(call);
                return self.finish(call, status, Metadata::new(), wire);
            }
        }
        if let Some(entry) = self.calls.get_mut(&call)
            && entry.half_close
            && entry.out.is_empty()
        {
            entry.half_close = false;
            let _ = self.core.half_close(call);
        }
    }

    fn finish(&mut self, call: CallId, status: Status, trailers: Metadata, wire: WireBytes) {
        if let Some(entry) = remove_id(&mut self.calls, &call) {
            remove_id(&mut self.keys, &entry.key);
            if let Some(obs) = entry.obs {
                obs.end(status.code, &status.message, wire, self.rt.now());
            }
            entry.shared.finish(status, trailers);
        }
    }

    /// Moves response messages from the core toward the call; `all` ignores
    /// the queue target (the call finished: nothing is left to push back on).
    fn pump(&mut self, call: CallId, all: bool) {
        let limit = queue_limit(self.calls.len(), CLIENT_QUEUE_SHARE);
        let Some(entry) = self.calls.get_mut(&call) else { return };
        let shared = entry.shared.clone();
        // Everything the queue has room for goes over in one batch: one
        // lock and one wake-up for many small messages.
        let (mut count, mut cost) = shared.queue_len(limit);
        if !all && queue_room(count, cost, limit) == 0 {
            if shared.set_core_has_more() {
                return;
            }
            // The application took the queue meanwhile.
            (count, cost) = (0, 0);
        }
        let room = match all {
            true => Room::ALL,
            false => Room { bytes: queue_room(count, cost, limit), per_message: MESSAGE_COST },
        };
        let mut batch = std::mem::take(&mut self.batch);
        let next = self.core.recv_messages(call, room, &mut batch);
        shared.deliver(&mut batch, entry.obs.as_deref_mut(), matches!(next, Ok(RecvBatch::Full)));
        self.batch = batch;
        match next {
            Ok(RecvBatch::Full | RecvBatch::Pending | RecvBatch::End) => {}
            Err(status) => shared.end_messages(Err(status)),
        }
    }

    fn dispatch_events(&mut self) -> bool {
        // Out of the picker before any call hears that the connection is
        // going: a call retried at once must not be given it again.
        if !self.core.h2().is_open() {
            self.handle.accepting.store(false, Ordering::Release);
        }
        let mut progress = false;
        while let Some(e) = self.core.poll_event() {
            progress = true;
            match e {
                ClientEvent::Headers { call, metadata } => {
                    if let Some(entry) = self.calls.get(&call) {
                        entry.shared.set_headers(metadata);
                    }
                }
                ClientEvent::Message { call } => self.pump(call, false),
                ClientEvent::Finished { call, status, trailers, wire } => {
                    // What the call still holds goes over as it lies: cut into
                    // messages as the application takes them. Compressed ones
                    // are opened here, all at once.
                    match self.core.take_rest(call) {
                        Some(rest) => {
                            if let Some(e) = self.calls.get_mut(&call) {
                                e.shared.deliver_rest(rest, e.obs.as_deref_mut());
                            }
                        }
                        None => self.pump(call, true),
                    }
                    self.finish(call, status, trailers, wire);
                    self.start_waiting();
                }
                ClientEvent::Writable { call } => {
                    if let Some(key) = self.calls.get(&call).map(|e| e.key) {
                        self.flush(key);
                    }
                }
                ClientEvent::GoAway { .. } => {
                    self.handle.accepting.store(false, Ordering::Release);
                    if !self.told_too_many_pings && self.core.h2().peer_said_too_many_pings() {
                        self.told_too_many_pings = true;
                        self.ctx.back_off_keepalive(self.keepalive);
                    }
                }
                ClientEvent::Closed { .. } => self.fail_all(),
            }
        }
        if !self.core.can_start_call() && !self.core.h2().is_open() {
            self.handle.accepting.store(false, Ordering::Release);
        }
        progress
    }

    fn fail_all(&mut self) {
        self.handle.accepting.store(false, Ordering::Release);
        let mut status = Status::new(Code::Unavailable, "connection closed");
        if let Some(e) = &self.transport.error {
            status = Status::new(Code::Unavailable, format!("connection lost: {}", describe(e)))
                .with_source(std::io::Error::new(e.kind(), e.to_string()));
        }
        let now = self.rt.now();
        for (call, entry) in self.calls.drain() {
            if let Some(obs) = entry.obs {
                let wire = self.core.wire_bytes(call).unwrap_or_default();
                obs.end(status.code, &status.message, wire, now);
            }
            entry.shared.finish(status.clone(), Metadata::new());
        }
        self.keys.clear();
        // Calls still waiting for a stream never left: retried transparently.
        let not_sent = self.not_sent();
        for cmd in self.waiting.drain(..) {
            if let ClientCmd::Start { shared, .. } = cmd {
                shared.finish(not_sent.clone(), Metadata::new());
            }
        }
    }

    /// The status of a call the connection ended before sending: retried
    /// transparently, and saying why the connection ended (the reason a
    /// caller sees if the retry meets the same fate).
    fn not_sent(&self) -> Status {
        let message = match self.core.h2().error() {
            Some(e) => format!("{} ({e})", super::retry::NOT_SENT),
            None => super::retry::NOT_SENT.to_owned(),
        };
        Status::new(Code::Unavailable, message)
    }
}

impl<R: Runtime> TakesCommands for ClientDriver<R> {
    fn queue(&mut self) -> (&ConnHandle, &mut Vec<ClientCmd>) {
        (&self.handle, &mut self.cmd_buf)
    }

    fn take_command(&mut self, cmd: ClientCmd) {
        self.on_cmd(cmd)
    }
}

impl<R: Runtime> Future for ClientDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..64 {
            let mut progress = this.run_commands(cx);
            progress |= this.transport.poll_read(cx, &mut this.core);
            progress |= this.dispatch_events();
            progress |= this.transport.poll_timer(cx, &mut this.core);
            progress |= this.dispatch_events();
            progress |= this.transport.poll_write(cx, &mut this.core);
            progress |= this.dispatch_events();
            // The server's SETTINGS may have raised its stream limit above
            // the number assumed until then.
            if !this.waiting.is_empty() && this.core.can_start_call() {
                this.start_waiting();
                progress = true;
            }
            if this.transport.is_done() {
                this.handle.closed.store(true, Ordering::Release);
                this.fail_all();
                let h2 = this.core.h2();
                this.obs.close(h2.stats(), h2.error().copied(), this.rt.now());
                let not_sent = this.not_sent();
                for cmd in this.handle.cmds.close() {
                    if let ClientCmd::Start { shared, .. } = cmd {
                        shared.finish(not_sent.clone(), Metadata::new());
                    }
                }
                return Poll::Ready(());
            }
            if !progress {
                this.note_active_calls();
                return Poll::Pending;
            }
        }
        this.note_active_calls();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<R: Runtime> ClientDriver<R> {
    fn note_active_calls(&self) {
        self.handle.active_calls.store(self.keys.len() + self.waiting.len(), Ordering::Release);
    }
}

/// What an abrupt end of the transport means, in words a user understands.
fn describe(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionReset => "connection reset by peer".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::BrokenPipe => "connection closed by peer (broken pipe)".into(),
        ErrorKind::UnexpectedEof => "connection closed by peer without GOAWAY".into(),
        ErrorKind::TimedOut => "connection timed out".into(),
        _ => e.to_string(),
    }
}
