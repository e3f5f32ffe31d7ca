//! The socket side of the two HTTP/1.1 drivers (the gRPC-Web server's and
//! the gRPC-Web client's): reads while the Sans-IO connection wants input
//! (so a full call queue stops reading, which is the backpressure), writes
//! what it produced, and arms one timer. The drivers keep what differs:
//! their calls, what an end of input means, when to shut the socket.

use std::io::IoSlice;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use weir_core::conn::{ChunkedBuf, Stats, TransmitBuf};
use weir_core::http1::{ClientConnection, ServerConnection};

use crate::runtime::{Io, Runtime};
use crate::util::Alarm;

/// Octets reserved in the input buffer before a read.
const READ_RESERVE: usize = 16 << 10;
/// Slices per vectored write.
const MAX_IOVECS: usize = 64;

/// What the socket side needs of an HTTP/1.1 connection (server or client).
pub(crate) trait Http1Conn {
    fn wants_input(&self) -> bool;
    fn input_buffer(&mut self) -> &mut BytesMut;
    fn process_input(&mut self, now: Instant);
    fn handle_eof(&mut self, now: Instant);
    fn handle_reset(&mut self, now: Instant);
    fn poll_transmit(&mut self, now: Instant, out: &mut ChunkedBuf) -> usize;
    fn is_closed(&self) -> bool;
}

macro_rules! http1_conn {
    ($t:ty) => {
        impl Http1Conn for $t {
            fn wants_input(&self) -> bool {
                <$t>::wants_input(self)
            }
            fn input_buffer(&mut self) -> &mut BytesMut {
                <$t>::input_buffer(self)
            }
            fn process_input(&mut self, now: Instant) {
                <$t>::process_input(self, now)
            }
            fn handle_eof(&mut self, now: Instant) {
                <$t>::handle_eof(self, now)
            }
            fn handle_reset(&mut self, now: Instant) {
                <$t>::handle_reset(self, now)
            }
            fn poll_transmit(&mut self, now: Instant, out: &mut ChunkedBuf) -> usize {
                <$t>::poll_transmit(self, now, out)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
        }
    };
}

http1_conn!(ServerConnection);
http1_conn!(ClientConnection);

/// What one read pass did.
pub(crate) struct ReadPass {
    /// Anything was read (or the input ended).
    pub progress: bool,
    /// The peer closed its side during this pass.
    pub eof: bool,
}

/// Socket, output buffer, timer and byte counts of one HTTP/1.1 connection.
pub(crate) struct Http1Io<R: Runtime> {
    rt: R,
    io: Box<dyn Io>,
    /// What the connection produced and the socket has not taken yet.
    pub out: ChunkedBuf,
    alarm: Alarm<R>,
    read_eof: bool,
    /// The socket is finished with (shut down, or failed).
    pub done: bool,
    pub stats: Stats,
}

impl<R: Runtime> Http1Io<R> {
    pub fn new(rt: R, io: Box<dyn Io>) -> Self {
        Http1Io {
            io,
            out: ChunkedBuf::new(),
            alarm: Alarm::default(),
            read_eof: false,
            done: false,
            stats: Stats::default(),
            rt,
        }
    }

    /// A new socket for a new connection (the client's redial); the byte
    /// counts go on.
    pub fn replace(&mut self, io: Box<dyn Io>) {
        self.io = io;
        self.out = ChunkedBuf::new();
        self.read_eof = false;
        self.done = false;
    }

    /// The socket failed (or is given up): the connection is over.
    pub fn fail(&mut self, conn: &mut impl Http1Conn) {
        self.read_eof = true;
        self.done = true;
        conn.handle_reset(self.rt.now());
    }

    /// Reads what is available into `conn` while it wants input.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, conn: &mut impl Http1Conn) -> ReadPass {
        let mut pass = ReadPass { progress: false, eof: false };
        while !self.read_eof && !self.done && conn.wants_input() {
            let buf = conn.input_buffer();
            buf.reserve(READ_RESERVE);
            match self.io.poll_read_buf(cx, buf) {
                Poll::Ready(Ok(0)) => {
                    self.read_eof = true;
                    pass.eof = true;
                    conn.handle_eof(self.rt.now());
                }
                Poll::Ready(Ok(n)) => {
                    self.stats.data_received += n as u64;
                    conn.process_input(self.rt.now());
                }
                Poll::Ready(Err(_)) => self.fail(conn),
                Poll::Pending => break,
            }
            pass.progress = true;
        }
        pass
    }

    /// Writes what `conn` produced until the socket pushes back; shuts the
    /// socket down once the connection is closed or `close` says so.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, conn: &mut impl Http1Conn, close: bool) -> bool {
        let mut progress = false;
        while !self.done {
            if self.out.is_empty() && conn.poll_transmit(self.rt.now(), &mut self.out) == 0 {
                self.out.release_if_idle(0);
                break;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = self.out.io_slices(&mut slices);
            match self.io.poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.fail(conn);
                    return true;
                }
                Poll::Ready(Ok(written)) => {
                    self.out.advance(written);
                    self.stats.data_sent += written as u64;
                    progress = true;
                }
                Poll::Pending => return progress,
            }
        }
        if self.done {
            return progress;
        }
        if let Poll::Ready(Err(_)) = self.io.poll_flush(cx) {
            self.fail(conn);
            return true;
        }
        if (conn.is_closed() || close) && self.io.poll_shutdown(cx).is_ready() {
            self.done = true;
            progress = true;
        }
        progress
    }

    /// True once `at` has come; until then the timer is armed for it.
    pub fn poll_alarm(&mut self, cx: &mut Context<'_>, at: Option<Instant>) -> bool {
        self.alarm.poll(&self.rt, cx, at)
    }
}
