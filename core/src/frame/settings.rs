//! SETTINGS parameters (RFC 9113 §6.5.2).

/// Known SETTINGS identifiers (§6.5.2, RFC 8441 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum SettingId {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1).
    HeaderTableSize = 0x1,
    /// SETTINGS_ENABLE_PUSH (0x2).
    EnablePush = 0x2,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    MaxConcurrentStreams = 0x3,
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4).
    InitialWindowSize = 0x4,
    /// SETTINGS_MAX_FRAME_SIZE (0x5).
    MaxFrameSize = 0x5,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6).
    MaxHeaderListSize = 0x6,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8, RFC 8441).
    EnableConnectProtocol = 0x8,
}

/// The parameters carried by one SETTINGS frame. `None` means "not present";
/// when an identifier repeats, the last value wins (processing in order, §6.5.3,
/// gives the same result). Unknown identifiers are ignored (§6.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH (validated 0 or 1).
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (validated <= 2^31-1).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (validated 2^14..=2^24-1).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (validated 0 or 1).
    pub enable_connect_protocol: Option<bool>,
}

impl Settings {
    /// True when no parameter is present.
    pub fn is_empty(&self) -> bool {
        *self == Settings::default()
    }

    /// Present parameters as (identifier, value) pairs, in identifier order.
    pub fn iter(&self) -> impl Iterator<Item = (SettingId, u32)> + '_ {
        [
            (SettingId::HeaderTableSize, self.header_table_size),
            (SettingId::EnablePush, self.enable_push.map(u32::from)),
            (SettingId::MaxConcurrentStreams, self.max_concurrent_streams),
            (SettingId::InitialWindowSize, self.initial_window_size),
            (SettingId::MaxFrameSize, self.max_frame_size),
            (SettingId::MaxHeaderListSize, self.max_header_list_size),
            (SettingId::EnableConnectProtocol, self.enable_connect_protocol.map(u32::from)),
        ]
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
    }
}
