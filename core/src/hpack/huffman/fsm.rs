//! The Huffman decoding automaton, built at compile time from [`CODES`].
//!
//! The states are the 256 internal nodes of the code tree (257 leaves make
//! 256 internal nodes; the root is state 0). From each state, a 4-bit nibble
//! leads to the next state and at most one decoded symbol (the shortest code
//! is 5 bits long, so a nibble cannot finish two symbols); reaching the EOS
//! leaf is a failure. Decoding uses [`BYTE_TRANSITIONS`], two nibble steps
//! composed: one lookup per input octet, at most two symbols.

use super::code::CODES;

/// A transition emits [`Transition::symbol`].
const EMIT: u8 = 1;
/// A transition reaches the EOS symbol: the string is invalid.
const FAIL: u8 = 2;

/// What consuming one nibble in one state does.
#[derive(Clone, Copy)]
struct Transition {
    /// The state after the nibble.
    next: u8,
    /// The decoded octet, when `flags & EMIT`.
    symbol: u8,
    /// [`EMIT`] and/or [`FAIL`].
    flags: u8,
}

/// How a string that ends in a given state ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum End {
    /// At a symbol boundary or after at most 7 bits of EOS prefix: valid.
    Accept,
    /// After 8 or more bits of EOS prefix.
    PaddingTooLong,
    /// Inside a code whose bits so far are not all ones.
    PaddingNotOnes,
}

/// `ENDS[state]`: whether a string may end in that state.
pub(super) static ENDS: [End; 256] = build_ends(&build_tree());

/// Child reference marking a leaf: `LEAF + symbol`.
const LEAF: u16 = 256;
/// Child not yet built.
const UNSET: u16 = u16::MAX;

/// `tree[node][bit]` is an internal node (< [`LEAF`]) or `LEAF + symbol`.
type Tree = [[u16; 2]; 256];

/// Builds the code tree by inserting every code, most significant bit first.
const fn build_tree() -> Tree {
    let mut tree = [[UNSET; 2]; 256];
    let mut nodes: u16 = 1;
    let mut symbol = 0;
    while symbol < CODES.len() {
        let (code, len) = CODES[symbol];
        let mut node = 0;
        let mut bit = len - 1;
        while bit > 0 {
            let branch = ((code >> bit) & 1) as usize;
            if tree[node][branch] == UNSET {
                assert!(nodes < LEAF, "too many internal nodes");
                tree[node][branch] = nodes;
                nodes += 1;
            }
            let child = tree[node][branch];
            assert!(child < LEAF, "code is not prefix-free");
            node = child as usize;
            bit -= 1;
        }
        let branch = (code & 1) as usize;
        assert!(tree[node][branch] == UNSET, "code is not prefix-free");
        tree[node][branch] = LEAF + symbol as u16;
        symbol += 1;
    }
    assert!(nodes == LEAF, "code is not complete");
    tree
}

/// Follows four bits from every state.
const fn build_transitions(tree: &Tree) -> [[Transition; 16]; 256] {
    let empty = Transition { next: 0, symbol: 0, flags: 0 };
    let mut table = [[empty; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            table[state][nibble] = follow_nibble(tree, state, nibble);
            nibble += 1;
        }
        state += 1;
    }
    table
}

/// Walks the four bits of `nibble` from internal node `state`.
const fn follow_nibble(tree: &Tree, state: usize, nibble: usize) -> Transition {
    let mut transition = Transition { next: 0, symbol: 0, flags: 0 };
    let mut node = state;
    let mut bit = 4;
    while bit > 0 {
        bit -= 1;
        let child = tree[node][(nibble >> bit) & 1];
        if child < LEAF {
            node = child as usize;
        } else if child == LEAF + 256 {
            transition.flags |= FAIL;
            return transition;
        } else {
            assert!(transition.flags & EMIT == 0, "two symbols in one nibble");
            transition.flags |= EMIT;
            transition.symbol = (child - LEAF) as u8;
            node = 0;
        }
    }
    transition.next = node as u8;
    transition
}

/// Classifies every state as a place where a string may or may not end.
const fn build_ends(tree: &Tree) -> [End; 256] {
    let mut ends = [End::PaddingNotOnes; 256];
    ends[0] = End::Accept;
    // Walk the all-ones path (a prefix of EOS): depth <= 7 is valid padding.
    let mut node = 0;
    let mut depth = 0;
    loop {
        let child = tree[node][1];
        if child >= LEAF {
            break;
        }
        node = child as usize;
        depth += 1;
        ends[node] = if depth <= 7 { End::Accept } else { End::PaddingTooLong };
    }
    ends
}

/// `BYTE_TRANSITIONS[state][octet]`: two nibble transitions composed, packed
/// as `next | first << 8 | second << 16 | emitted << 24 | failed << 26`
/// (`emitted` is 0, 1 or 2; a failure restarts at the root).
pub(super) static BYTE_TRANSITIONS: [[u32; 256]; 256] = build_byte_transitions();

const fn build_byte_transitions() -> [[u32; 256]; 256] {
    let nibbles = build_transitions(&build_tree());
    let mut table = [[0u32; 256]; 256];
    let mut state = 0;
    while state < 256 {
        let mut octet = 0;
        while octet < 256 {
            let high = nibbles[state][octet >> 4];
            let low = nibbles[high.next as usize][octet & 0x0f];
            let mut symbols = [0u32; 2];
            let mut emitted = 0;
            if high.flags & EMIT != 0 {
                symbols[emitted] = high.symbol as u32;
                emitted += 1;
            }
            if low.flags & EMIT != 0 {
                symbols[emitted] = low.symbol as u32;
                emitted += 1;
            }
            let failed = ((high.flags | low.flags) & FAIL != 0) as u32;
            table[state][octet] =
                low.next as u32 | symbols[0] << 8 | symbols[1] << 16 | (emitted as u32) << 24 | failed << 26;
            octet += 1;
        }
        state += 1;
    }
    table
}
