//! The last decoded header section of each kind, reused when the peer sends
//! the very same all-indexed block again (a gRPC peer's steady state: the
//! same request headers, the same `:status 200`, the same `grpc-status: 0`).
//!
//! An all-indexed block (RFC 7541 §6.1) does not change the dynamic table,
//! so while the table's generation is unchanged the same octets decode to
//! the same fields and validate to the same result: decoding and validating
//! them again would only repeat work.

use std::sync::Arc;

use bytes::Bytes;

use crate::headers::{BlockKind, Headers};

/// What a block decoded and validated to: the header section and its
/// `content-length`.
pub(super) type Built = (Arc<Headers>, Option<u64>);

struct Entry {
    /// Our own copy of the block (never a slice pinning a receive buffer).
    block: Bytes,
    generation: u64,
    built: Built,
}

/// One remembered block per [`BlockKind`].
#[derive(Default)]
pub(super) struct BlockMemo {
    entries: [Option<Entry>; 3],
}

fn slot(kind: BlockKind) -> usize {
    match kind {
        BlockKind::Request => 0,
        BlockKind::Response => 1,
        BlockKind::Trailers => 2,
    }
}

impl BlockMemo {
    /// The section `block` decoded to last time, if the table is unchanged.
    pub fn get(&self, kind: BlockKind, block: &[u8], generation: u64) -> Option<Built> {
        let e = self.entries[slot(kind)].as_ref()?;
        (e.generation == generation && e.block[..] == *block).then(|| e.built.clone())
    }

    /// Remembers an all-indexed block that decoded and validated cleanly.
    /// Its fields all come from the HPACK tables, so they pin nothing of
    /// the peer's buffers.
    pub fn put(&mut self, kind: BlockKind, block: &[u8], generation: u64, built: &Built) {
        self.entries[slot(kind)] =
            Some(Entry { block: Bytes::copy_from_slice(block), generation, built: built.clone() });
    }
}

impl std::fmt::Debug for BlockMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.entries.iter().filter(|e| e.is_some()).count();
        f.debug_struct("BlockMemo").field("kept", &kept).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_answers_only_for_the_same_block_kind_and_generation() {
        let mut memo = BlockMemo::default();
        let built = (Arc::new(Headers::response(200)), None);
        memo.put(BlockKind::Response, b"\x88", 7, &built);
        assert_eq!(memo.get(BlockKind::Response, b"\x88", 7), Some(built));
        assert_eq!(memo.get(BlockKind::Response, b"\x88", 8), None, "the table changed");
        assert_eq!(memo.get(BlockKind::Response, b"\x89", 7), None, "other octets");
        assert_eq!(memo.get(BlockKind::Trailers, b"\x88", 7), None, "another kind");
    }
}
