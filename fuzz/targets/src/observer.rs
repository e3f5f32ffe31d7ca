//! Watches what an endpoint writes and checks that it is valid HTTP/2 that
//! respects the peer's settings.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use weir_core::conn::{Connection, Stats};
use weir_core::conn::{PREFACE, Role};
use weir_core::frame::{Frame, FrameDecoder, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, StreamId};
use weir_core::hpack::{self, Decoder};

/// DATA octets (flow-control length) written per stream in one transmit.
pub type DataSent = HashMap<StreamId, u64>;

/// Decodes an endpoint's output as its peer would.
pub struct Observer {
    frames: FrameDecoder,
    buf: BytesMut,
    hpack: Decoder,
    /// A header block in progress: its stream and fragments.
    block: Option<(StreamId, BytesMut)>,
    preface_left: usize,
    seen_first: bool,
    /// A GOAWAY was written.
    pub goaway: bool,
    /// Frames written so far.
    pub frames_seen: u64,
}

impl Observer {
    /// An observer of an endpoint in `role`.
    pub fn new(role: Role) -> Self {
        Observer {
            frames: FrameDecoder::new(MAX_MAX_FRAME_SIZE),
            buf: BytesMut::new(),
            hpack: Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            block: None,
            preface_left: if role == Role::Client { PREFACE.len() } else { 0 },
            seen_first: false,
            goaway: false,
            frames_seen: 0,
        }
    }

    /// Checks one `poll_transmit`'s output, with the peer settings in force
    /// when it was written. Returns the DATA written per stream.
    pub fn observe(&mut self, out: &[u8], conn: &Connection) -> DataSent {
        let peer = *conn.peer_settings();
        let mut sent = DataSent::new();
        let mut out = out;
        if self.preface_left > 0 {
            let n = self.preface_left.min(out.len());
            let at = PREFACE.len() - self.preface_left;
            assert_eq!(&out[..n], &PREFACE[at..at + n], "client preface");
            self.preface_left -= n;
            out = &out[n..];
        }
        self.buf.extend_from_slice(out);
        loop {
            let frame = match self.frames.decode(&mut self.buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("the endpoint wrote a malformed frame: {e:?}"),
            };
            self.frames_seen += 1;
            if debug() {
                eprintln!("out: {frame:?}");
            }
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            assert!(
                wire.len() - 9 <= peer.max_frame_size as usize,
                "frame of {} octets over the peer's SETTINGS_MAX_FRAME_SIZE {}",
                wire.len() - 9,
                peer.max_frame_size
            );
            if !self.seen_first {
                self.seen_first = true;
                assert!(
                    matches!(&frame, Frame::Settings(s) if !s.ack),
                    "first frame not SETTINGS: {frame:?}"
                );
            }
            if let Some((id, _)) = &self.block {
                assert!(
                    matches!(&frame, Frame::Continuation(c) if c.stream_id == *id),
                    "header block interrupted by {frame:?}"
                );
            }
            match frame {
                Frame::Data(d) => {
                    assert!(!d.stream_id.is_zero());
                    *sent.entry(d.stream_id).or_default() += u64::from(d.flow_len());
                }
                Frame::Headers(h) => {
                    let mut fragments = BytesMut::from(&h.fragment[..]);
                    if h.end_headers {
                        self.header_block(h.stream_id, fragments.split().freeze(), peer.header_table_size);
                    } else {
                        self.block = Some((h.stream_id, fragments));
                    }
                }
                Frame::Continuation(c) => {
                    let (id, mut fragments) = self.block.take().expect("CONTINUATION outside a header block");
                    fragments.extend_from_slice(&c.fragment);
                    if c.end_headers {
                        self.header_block(id, fragments.freeze(), peer.header_table_size);
                    } else {
                        self.block = Some((id, fragments));
                    }
                }
                Frame::PushPromise(p) => panic!("Weir never pushes: {p:?}"),
                Frame::GoAway(_) => self.goaway = true,
                Frame::WindowUpdate(w) => assert!(w.increment <= MAX_WINDOW_SIZE),
                Frame::Unknown(u) => panic!("Weir never sends unknown frames: {u:?}"),
                Frame::Priority(_) | Frame::RstStream(_) | Frame::Settings(_) | Frame::Ping(_) => {}
            }
        }
        sent
    }

    /// A complete header block decodes with the table size the peer allowed.
    fn header_block(&mut self, id: StreamId, block: Bytes, peer_table_size: u32) {
        // The peer's decoder applies its (acknowledged) limit at once; our
        // encoder must announce it at the start of its next block.
        self.hpack.set_max_table_size(peer_table_size as usize);
        self.hpack
            .decode(&block, usize::MAX, |f| {
                assert!(!f.name.is_empty(), "empty field name on {id:?}");
            })
            .unwrap_or_else(|e| panic!("header block on {id:?} does not decode: {e}"));
    }
}

/// Buffers an endpoint may hold stay within its configured limits.
pub fn check_buffers(stats: &Stats, recv_bound: usize, send_bound: usize) {
    assert!(
        stats.recv_buffered <= recv_bound,
        "{} octets received and unread, over the bound {recv_bound}",
        stats.recv_buffered
    );
    assert!(
        stats.send_buffered <= send_bound,
        "{} octets queued to send, over the bound {send_bound}",
        stats.send_buffered
    );
}

/// Whether `WEIR_FUZZ_DEBUG` is set: the connection targets then print every
/// frame written and the stats at every check (to read a reproducer).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("WEIR_FUZZ_DEBUG").is_some())
}
