//! SETTINGS state (RFC 9113 §6.5): ours pending until acknowledged, the peer's
//! as applied.

use std::collections::VecDeque;
use std::time::Instant;

use super::config::{Config, Role};
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, Settings};

/// The peer's settings as we apply them (RFC defaults until its SETTINGS arrive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerSettings {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table our encoder may use.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams we may have open.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: our initial send window per stream.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame we may send.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (advisory).
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub enable_connect_protocol: bool,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: u32::MAX,
            initial_window_size: 65_535,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
            enable_connect_protocol: false,
        }
    }
}

/// Our settings: what the peer acknowledged, and what is in flight. Until an
/// ACK arrives the peer may act on either, so flow-control checks use the more
/// lenient. Limits that only lead to a refusal (header list size, concurrent
/// streams) are enforced from the start: a peer that never acknowledges must
/// not get the RFC's unlimited defaults.
#[derive(Clone, Debug)]
pub(crate) struct LocalSettings {
    acked_initial_window: u32,
    pending: VecDeque<(Settings, Instant)>,
}

impl LocalSettings {
    pub fn new(_config: &Config) -> Self {
        LocalSettings { acked_initial_window: 65_535, pending: VecDeque::new() }
    }

    /// The SETTINGS frame of our connection preface.
    pub fn initial_frame(config: &Config, role: Role) -> Settings {
        Settings {
            header_table_size: (config.header_table_size != 4096).then_some(config.header_table_size),
            enable_push: (role == Role::Client).then_some(false),
            max_concurrent_streams: Some(config.max_concurrent_streams),
            initial_window_size: (config.initial_stream_window != 65_535)
                .then_some(config.initial_stream_window),
            max_frame_size: (config.max_frame_size != DEFAULT_MAX_FRAME_SIZE)
                .then_some(config.max_frame_size),
            max_header_list_size: Some(config.max_header_list_size),
            enable_connect_protocol: None,
        }
    }

    pub fn push_pending(&mut self, settings: Settings, now: Instant) {
        self.pending.push_back((settings, now));
    }

    /// Records our preface's SETTINGS. They are written before any other
    /// SETTINGS, so they are acknowledged first even when a settings command
    /// (`set_initial_window_size`...) was queued before the first transmit.
    pub fn push_initial(&mut self, settings: Settings, now: Instant) {
        self.pending.push_front((settings, now));
    }

    /// The oldest unacknowledged SETTINGS' send time.
    pub fn oldest_pending(&self) -> Option<Instant> {
        self.pending.front().map(|(_, t)| *t)
    }

    /// Takes the oldest pending SETTINGS on ACK.
    pub fn ack(&mut self) -> Option<Settings> {
        let (s, _) = self.pending.pop_front()?;
        if let Some(w) = s.initial_window_size {
            self.acked_initial_window = w;
        }
        Some(s)
    }

    /// Initial receive window for new streams: the largest value the peer may use.
    pub fn initial_window(&self) -> u32 {
        self.pending
            .iter()
            .filter_map(|(s, _)| s.initial_window_size)
            .fold(self.acked_initial_window, u32::max)
    }
}
