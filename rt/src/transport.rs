//! The I/O half of a connection driver, shared by both roles: read into the
//! core's buffer, write what `poll_transmit` produced with one vectored write
//! per batch, keep one timer armed at the core's deadline.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use weir_core::Endpoint;
use weir_core::conn::{ChunkedBuf, TransmitBuf};
use weir_core::frame::GROW_ABOVE;

use crate::buf_pool::BufPool;
use crate::runtime::{Io, Runtime};
use crate::util::Alarm;

/// Bytes reserved in the input buffer before a read, at first and at most:
/// the reservation doubles while reads fill it (bulk transfers) and starts
/// small so an idle connection holds little.
const READ_RESERVE_MIN: usize = 4 << 10;
const READ_RESERVE_MAX: usize = 64 << 10;
/// Buffers larger than this are released when a connection goes quiet.
const IDLE_KEEP: usize = 8 << 10;
/// A partial frame at most this long moves to a pooled buffer with a copy;
/// a longer one stays where it is (the decoder grows its buffer to hold
/// all of a frame longer than this).
const CARRY_MAX: usize = GROW_ABOVE;
/// Full-size read buffers, reused once every frame cut from them is dropped
/// ([`BufPool`]): 64 of them (5 MiB) for the whole process, each with room
/// for a full read behind a carried partial frame.
static READS: BufPool = BufPool::new(READ_RESERVE_MAX + CARRY_MAX, 64);
/// Reads per driver poll before yielding to other tasks.
const MAX_READS_PER_POLL: usize = 32;
/// Input processed before the driver dispatches events and writes: a burst of
/// small requests read at once is answered slice by slice, so the peer gets
/// the first responses (and sends more requests) while the rest are handled.
const INPUT_SLICE: usize = 4 << 10;
/// How long a closed connection keeps reading (and discarding) after its
/// write side is shut, so that closing with the peer's octets unread does
/// not make the kernel answer with a TCP reset, which can destroy the
/// GOAWAY still on its way to the peer. gRPC-Go's HTTP/2 server waits as
/// long after a GOAWAY with an error (`goAwayTimeout`, x/net/http2).
const DRAIN_AFTER_CLOSE: Duration = Duration::from_secs(1);
/// Size of the scratch buffer that discarded input is read into.
const DRAIN_BUF: usize = 16 << 10;

/// Where the transport is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// The core is closed: flush what is left, then shut the write side.
    Flushing,
    /// The write side is shut: read and discard until the peer closes too or
    /// `DRAIN_AFTER_CLOSE` passes.
    Draining,
    Done,
}

/// Socket, output buffer and timer of one connection.
pub(crate) struct Transport<R: Runtime> {
    rt: R,
    io: Box<dyn Io>,
    out: ChunkedBuf,
    alarm: Alarm<R>,
    read_eof: bool,
    read_reserve: usize,
    /// Input read but not yet processed (the core stopped after a slice).
    input_left: bool,
    phase: Phase,
    /// When the core started closing, plus its `close_flush_timeout`: past it the
    /// transport is done whatever is left unwritten (a peer that does not
    /// read cannot hold a closed connection open).
    close_deadline: Option<Instant>,
    /// Whether to drain the socket after shutting the write side.
    drain_on_close: bool,
    /// The first I/O error, kept as the cause of the connection's end.
    pub error: Option<io::Error>,
}

impl<R: Runtime> Transport<R> {
    pub fn new(rt: R, io: Box<dyn Io>) -> Self {
        Transport {
            rt,
            io,
            out: ChunkedBuf::new(),
            alarm: Alarm::default(),
            read_eof: false,
            read_reserve: READ_RESERVE_MIN,
            input_left: false,
            phase: Phase::Running,
            close_deadline: None,
            drain_on_close: false,
            error: None,
        }
    }

    /// Once closed, reads and discards the peer's octets for up to
    /// `DRAIN_AFTER_CLOSE` before the socket is dropped (see
    /// [`Transport::poll_drain`]). A server wants this: its GOAWAY must reach
    /// a client that is still sending. A client does not: it reconnects once
    /// its driver ends, and a dead peer would hold that up.
    pub fn drain_on_close(mut self) -> Self {
        self.drain_on_close = true;
        self
    }

    /// True once the connection is over for the core: every octet it had to
    /// send is written (or given up on). The socket may still be draining
    /// ([`Transport::poll_drain`]).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Draining | Phase::Done)
    }

    /// After [`Transport::is_done`]: reads and discards what the peer still
    /// sends until it closes its side, an error, or the drain deadline.
    /// Ready when the socket can be dropped.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.phase != Phase::Draining {
            return Poll::Ready(());
        }
        let mut scratch = BytesMut::with_capacity(DRAIN_BUF);
        for _ in 0..MAX_READS_PER_POLL {
            scratch.clear();
            match self.io.poll_read_buf(cx, &mut scratch) {
                Poll::Ready(Ok(0) | Err(_)) => {
                    self.phase = Phase::Done;
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => {
                    if self.alarm.poll(&self.rt, cx, self.close_deadline) {
                        self.phase = Phase::Done;
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Reads whatever is available into the core. True when anything was read
    /// (or the stream ended). Returns after each slice of input that leaves
    /// more behind, so the driver answers it before going on.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, core: &mut impl Endpoint) -> bool {
        if self.input_left {
            self.input_left = core.process_input_up_to(self.rt.now(), INPUT_SLICE);
            return true;
        }
        if self.read_eof || self.phase != Phase::Running {
            return false;
        }
        let mut progress = false;
        for _ in 0..MAX_READS_PER_POLL {
            let buf = core.input_buffer();
            if buf.capacity() - buf.len() < self.read_reserve
                && self.read_reserve == READ_RESERVE_MAX
                && buf.len() <= CARRY_MAX
            {
                // Bulk reads: the next buffer is a pooled one, with the
                // partial frame (if any) carried over.
                let mut next = READS.take();
                next.extend_from_slice(buf);
                let mut done = std::mem::replace(buf, next);
                done.clear();
                retire(done);
            }
            let buf = core.input_buffer();
            buf.reserve(self.read_reserve);
            let room = buf.capacity() - buf.len();
            match self.io.poll_read_buf(cx, buf) {
                Poll::Ready(Ok(0)) => {
                    self.read_eof = true;
                    core.handle_eof(self.rt.now());
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    if n >= room {
                        self.read_reserve = (self.read_reserve * 2).min(READ_RESERVE_MAX);
                    }
                    self.input_left = core.process_input_up_to(self.rt.now(), INPUT_SLICE);
                    if self.input_left {
                        return true;
                    }
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    self.fail(e, core);
                    return true;
                }
                Poll::Pending => {
                    // Idle (no call): give the empty input buffer back. While
                    // calls run it is kept, so its memory is reclaimed in place
                    // once the messages cut from it are dropped.
                    let idle = core.active_streams() == 0;
                    let buf = core.input_buffer();
                    if idle && buf.is_empty() && buf.capacity() > 0 {
                        retire(std::mem::take(buf));
                        self.read_reserve = READ_RESERVE_MIN;
                    }
                    return progress;
                }
            }
        }
        // Still readable after a full round: come back soon, after others ran.
        cx.waker().wake_by_ref();
        progress
    }

    /// Fires the timer when due. True when the core handled a timeout.
    pub fn poll_timer(&mut self, cx: &mut Context<'_>, core: &mut impl Endpoint) -> bool {
        if self.close_deadline.is_none()
            && self.phase != Phase::Done
            && let Some(timeout) = core.close_flush_timeout()
        {
            self.close_deadline = Some(self.rt.now() + timeout);
        }
        let at = [core.poll_timeout(), self.close_deadline].into_iter().flatten().min();
        if !self.alarm.poll(&self.rt, cx, at) {
            return false;
        }
        self.fire(self.rt.now(), core)
    }

    /// The timer expired: give up on a closed connection's output, or run
    /// the core's timeouts.
    fn fire(&mut self, now: Instant, core: &mut impl Endpoint) -> bool {
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.read_eof = true;
            self.phase = Phase::Done;
            return true;
        }
        core.handle_timeout(now);
        true
    }

    /// Writes what the core has to send until the socket pushes back. True
    /// when anything was written.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, core: &mut impl Endpoint) -> bool {
        let mut progress = false;
        loop {
            if self.phase == Phase::Done {
                return progress;
            }
            if self.out.is_empty() && core.poll_transmit(self.rt.now(), &mut self.out) == 0 {
                // No call: keep nothing; between a running call's writes, a little.
                let keep = if core.active_streams() == 0 { 0 } else { IDLE_KEEP };
                self.out.release_if_idle(keep);
                break;
            }
            match self.io.poll_write_chunks(cx, &mut self.out) {
                Poll::Ready(Ok(0)) => {
                    self.fail(io::ErrorKind::WriteZero.into(), core);
                    return true;
                }
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(e)) => {
                    self.fail(e, core);
                    return true;
                }
                Poll::Pending => return progress,
            }
        }
        // Everything written: push it out of any TLS buffer.
        if let Poll::Ready(Err(e)) = self.io.poll_flush(cx) {
            self.fail(e, core);
            return true;
        }
        if core.is_closed() && self.phase == Phase::Running {
            self.phase = Phase::Flushing;
        }
        if self.phase == Phase::Flushing {
            match self.io.poll_shutdown(cx) {
                Poll::Pending => {}
                Poll::Ready(_) if self.read_eof || !self.drain_on_close => self.phase = Phase::Done,
                Poll::Ready(_) => {
                    self.phase = Phase::Draining;
                    self.close_deadline = Some(self.rt.now() + DRAIN_AFTER_CLOSE);
                }
            }
        }
        if self.read_eof && core.is_closed() && self.out.is_empty() {
            self.phase = Phase::Done;
        }
        progress
    }

    fn fail(&mut self, e: io::Error, core: &mut impl Endpoint) {
        let reset = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe
        );
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.read_eof = true;
        if reset {
            core.handle_reset(self.rt.now());
        } else {
            core.handle_eof(self.rt.now());
        }
        self.phase = Phase::Done;
    }
}

/// Gives an input buffer that is done with to [`READS`]: the one taken from
/// there, or the one the frame decoder moved a partial frame into. Only its
/// tail is seen here, so one the decoder grew for a larger frame may pass;
/// the pool frees such a buffer, rather than handing it out, once it is
/// reclaimed ([`BufPool::take`]).
fn retire(done: BytesMut) {
    if done.capacity() <= READS.size() {
        READS.put(done);
    }
}
