//! Connection configuration: what we advertise and every resource limit, secure
//! by default.

use std::time::Duration;

use super::keepalive::PingPolicy;

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the preface, opens odd-numbered streams.
    Client,
    /// Receives the preface, answers requests.
    Server,
}

/// Connection settings and limits. `Config::default()` is secure by default;
/// every field can be changed.
#[derive(Clone, Debug)]
pub struct Config {
    /// SETTINGS_HEADER_TABLE_SIZE we advertise (HPACK table the peer may use).
    pub header_table_size: u32,
    /// Upper bound for the HPACK table our encoder uses, whatever the peer allows.
    pub max_encoder_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise and enforce on peer-opened streams.
    pub max_concurrent_streams: u32,
    /// Streams we open at once before the peer's SETTINGS arrive (the RFC's
    /// initial value is unlimited, but a burst of opens would then meet the
    /// peer's real limit as REFUSED_STREAM; RFC 9113 §5.1.2, §6.5.2). More
    /// wait until the SETTINGS tell the real limit. gRPC-Go's client assumes
    /// 100 (`defaultMaxStreamsClient`).
    pub assumed_peer_max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise (per-stream receive window).
    /// Default 512 KiB (256 KiB cost a 1 MiB message stream a sixth of its
    /// rate on loopback); with `bdp_window_growth` the windows grow to what
    /// the link carries in a round trip (up to `max_bdp_window`).
    pub initial_stream_window: u32,
    /// Our connection receive window (announced with a WINDOW_UPDATE after
    /// the preface). Default 1 MiB, twice the stream window: credit returns
    /// as calls read, so one call whose handler does not read can hold at
    /// most half of it, and the others still get through. Small enough that
    /// what the streams received and did not hand over yet is decoded from
    /// the cache.
    pub initial_connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise (largest frame we accept).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce while decoding.
    pub max_header_list_size: u32,
    /// Grow receive windows from bandwidth-delay-product samples (as gRPC-Go).
    pub bdp_window_growth: bool,
    /// Upper bound for BDP-grown windows.
    pub max_bdp_window: u32,
    /// Unread octets (queued on streams) whose connection-level credit
    /// returns when they arrive, rather than when their stream reads them:
    /// this many, or the connection window's target size if larger. A
    /// stream whose reader stalls then holds its own window, not the
    /// connection's, and the other streams go on; past it, credit returns
    /// as streams read, so a connection buffers at most this plus one
    /// connection window.
    pub early_connection_credit: usize,
    /// How long the peer has to acknowledge our SETTINGS before SETTINGS_TIMEOUT.
    pub settings_ack_timeout: Duration,
    /// Maximum CONTINUATION frames in one header block (CONTINUATION flood).
    pub max_continuation_frames: usize,
    /// Streams the peer may reset (or that we reset for its errors) per
    /// [`Config::reset_window`] before ENHANCE_YOUR_CALM (Rapid Reset, CVE-2023-44487).
    pub max_resets_per_window: u32,
    /// The window over which resets are counted.
    pub reset_window: Duration,
    /// Control frames we may owe the peer (PING and SETTINGS ACKs, RST_STREAMs)
    /// while it does not read, before ENHANCE_YOUR_CALM (ping/settings floods).
    pub max_pending_control_frames: usize,
    /// Empty DATA frames without END_STREAM tolerated per [`Config::reset_window`]
    /// (CVE-2019-9518).
    pub max_empty_data_frames: u32,
    /// Streams the peer opened beyond our MAX_CONCURRENT_STREAMS per window
    /// (each is refused) before ENHANCE_YOUR_CALM.
    pub max_refused_streams_per_window: u32,
    /// Bytes queued for sending on one stream before `send_data` reports the
    /// buffer full (a single chunk is always accepted when the buffer is empty).
    pub max_send_buffer_per_stream: usize,
    /// Bytes queued for sending on the whole connection, same rule.
    pub max_send_buffer_per_connection: usize,
    /// Locally opened streams that may wait for a MAX_CONCURRENT_STREAMS slot.
    pub max_pending_open_streams: usize,
    /// Locally reset streams remembered so the peer's late frames are ignored.
    pub reset_stream_memory: usize,
    /// Most bytes one `poll_transmit` call appends (it can be called again).
    pub max_transmit_size: usize,
    /// Send a PING after this long without receiving anything (keepalive).
    pub keepalive_interval: Option<Duration>,
    /// Close the connection when a keepalive PING is not answered in this time.
    pub keepalive_timeout: Duration,
    /// Send keepalive pings even with no open streams.
    pub keepalive_while_idle: bool,
    /// Server: how often the client may ping (gRPC-Go keepalive
    /// `EnforcementPolicy`); `None` (the default here) enforces nothing.
    pub ping_policy: Option<PingPolicy>,
    /// Close gracefully after this long without open streams.
    pub idle_timeout: Option<Duration>,
    /// Start a graceful shutdown after the connection is this old (gRPC-Go MaxConnectionAge).
    pub max_connection_age: Option<Duration>,
    /// How long in-flight streams may run after a graceful shutdown starts.
    pub shutdown_grace: Duration,
    /// Once the connection is closed, how long the transport may take to
    /// write what is left (the final GOAWAY) before it drops the socket
    /// anyway: a peer that stops reading cannot hold a closed connection.
    pub close_flush_timeout: Duration,
    /// First stream id we open (default 1 for clients, 2 for servers); a high
    /// value reaches §5.1.1 stream-id exhaustion quickly in tests.
    pub first_local_stream_id: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_table_size: 4096,
            max_encoder_table_size: 16 * 1024,
            max_concurrent_streams: 256,
            assumed_peer_max_concurrent_streams: 100,
            initial_stream_window: 512 << 10,
            initial_connection_window: 1 << 20,
            max_frame_size: 1 << 14,
            max_header_list_size: 16 << 10,
            bdp_window_growth: true,
            max_bdp_window: 16 << 20,
            early_connection_credit: 4 << 20,
            settings_ack_timeout: Duration::from_secs(10),
            max_continuation_frames: 32,
            max_resets_per_window: 1000,
            reset_window: Duration::from_secs(10),
            max_pending_control_frames: 1000,
            max_empty_data_frames: 100,
            max_refused_streams_per_window: 1000,
            max_send_buffer_per_stream: 1 << 20,
            max_send_buffer_per_connection: 16 << 20,
            max_pending_open_streams: 1024,
            reset_stream_memory: 256,
            max_transmit_size: 1 << 20,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            keepalive_while_idle: false,
            ping_policy: None,
            idle_timeout: None,
            max_connection_age: None,
            shutdown_grace: Duration::from_secs(30),
            close_flush_timeout: Duration::from_secs(5),
            first_local_stream_id: None,
        }
    }
}
