//! No input panics a connection: random bytes after a valid preface, in both
//! roles, and the connection's buffers stay bounded.

mod support;

use proptest::prelude::*;
use support::*;
use weir_core::conn::Config;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn server_survives_random_bytes(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..512), 0..16)) {
        let mut p = Peer::server(Config::default());
        for c in &chunks {
            p.send_raw(c);
            p.drain_events();
            let mut sink = Vec::new();
            p.conn.poll_transmit(p.now, &mut sink);
            prop_assert!(p.conn.stats().recv_buffered <= 2 << 20);
        }
    }

    #[test]
    fn client_survives_random_bytes(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..512), 0..16)) {
        let mut p = Peer::client(Config::default());
        let _ = p.conn.open_stream(request_headers(), false);
        for c in &chunks {
            p.send_raw(c);
            p.drain_events();
            let mut sink = Vec::new();
            p.conn.poll_transmit(p.now, &mut sink);
        }
    }

    /// Random but well-framed input: valid frame headers with random types,
    /// flags, stream ids and payloads reach deeper than raw noise.
    #[test]
    fn server_survives_random_frames(frames in prop::collection::vec((0u8..12, any::<u8>(), 0u32..12, prop::collection::vec(any::<u8>(), 0..64)), 0..64)) {
        let mut p = Peer::server(Config::default());
        for (kind, flags, stream, payload) in &frames {
            let len = payload.len() as u32;
            let mut wire = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, *kind, *flags];
            wire.extend_from_slice(&stream.to_be_bytes());
            wire.extend_from_slice(payload);
            p.send_raw(&wire);
            p.drain_events();
            let mut sink = Vec::new();
            p.conn.poll_transmit(p.now, &mut sink);
        }
    }
}
