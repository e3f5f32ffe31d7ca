//! The last header block of each kind we encoded, replayed when the owner
//! sends a section of the very same buffers again while the HPACK encoder's
//! table is as it was (a gRPC endpoint's steady state: the same response
//! headers and `grpc-status: 0` trailers call after call).
//!
//! Only blocks that left the encoder's table unchanged are kept, so the
//! replayed octets are exactly what encoding again would produce, and the
//! peer's table stays in step. Blocks with sensitive or churning fields are
//! never kept.

use bytes::Bytes;

use crate::headers::{Headers, Pseudo};
use crate::hpack::{TableState, value_churns};

struct Entry {
    table: TableState,
    /// The section encoded (its buffers held, so identity means equality).
    headers: Headers,
    encoded: Vec<u8>,
}

/// One remembered block per kind of section (request, response, trailers).
#[derive(Default)]
pub(super) struct SentMemo {
    entries: [Option<Entry>; 3],
}

fn slot(h: &Headers) -> usize {
    match (&h.pseudo.method, h.pseudo.status) {
        (Some(_), _) => 0,
        (None, Some(_)) => 1,
        (None, None) => 2,
    }
}

fn same(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

fn same_option(a: &Option<Bytes>, b: &Option<Bytes>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    }
}

fn same_pseudo(a: &Pseudo, b: &Pseudo) -> bool {
    a.status == b.status
        && same_option(&a.method, &b.method)
        && same_option(&a.scheme, &b.scheme)
        && same_option(&a.authority, &b.authority)
        && same_option(&a.path, &b.path)
        && same_option(&a.protocol, &b.protocol)
}

/// The same buffers, field for field (which implies the same octets: the
/// remembered copy keeps them alive and `Bytes` never change).
fn same_buffers(a: &Headers, b: &Headers) -> bool {
    same_pseudo(&a.pseudo, &b.pseudo)
        && a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| same(&x.name, &y.name) && same(&x.value, &y.value) && x.sensitive == y.sensitive)
}

impl SentMemo {
    /// The encoding of `h` kept from last time, if the table is unchanged.
    pub fn get(&self, h: &Headers, table: Option<TableState>) -> Option<&[u8]> {
        let e = self.entries[slot(h)].as_ref()?;
        (Some(e.table) == table && same_buffers(&e.headers, h)).then_some(&e.encoded[..])
    }

    /// Remembers how `h` encoded, when the block left the table as it was
    /// (`before == after`) and nothing in it is sensitive or churning.
    pub fn put(
        &mut self,
        h: &Headers,
        before: Option<TableState>,
        after: Option<TableState>,
        encoded: &[u8],
    ) {
        let (Some(before), Some(after)) = (before, after) else {
            return;
        };
        let keep = before == after
            && h.fields.iter().all(|f| !f.sensitive && !value_churns(&f.name, &f.value))
            && !h.pseudo.path.as_ref().is_some_and(|p| value_churns(b":path", p));
        let entry = &mut self.entries[slot(h)];
        if !keep {
            *entry = None;
            return;
        }
        match entry {
            Some(e) => {
                e.table = after;
                e.headers.pseudo.clone_from(&h.pseudo);
                e.headers.fields.clone_from(&h.fields);
                e.encoded.clear();
                e.encoded.extend_from_slice(encoded);
            }
            None => *entry = Some(Entry { table: after, headers: h.clone(), encoded: encoded.to_vec() }),
        }
    }
}

impl std::fmt::Debug for SentMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.entries.iter().filter(|e| e.is_some()).count();
        f.debug_struct("SentMemo").field("kept", &kept).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailers() -> Headers {
        let mut h = Headers::trailers();
        h.push(Bytes::from_static(b"grpc-status"), Bytes::from_static(b"0"));
        h
    }

    #[test]
    fn a_block_is_replayed_only_for_the_same_buffers_and_table() {
        let mut memo = SentMemo::default();
        let h = trailers();
        let state = Some(TableState::for_tests(3, 4096));
        memo.put(&h, state, state, b"\xbe");
        assert_eq!(memo.get(&h, state), Some(&b"\xbe"[..]));
        assert_eq!(memo.get(&trailers(), state), Some(&b"\xbe"[..]), "static buffers are the same buffers");
        assert_eq!(memo.get(&h, Some(TableState::for_tests(4, 4096))), None, "an entry was inserted");
        assert_eq!(memo.get(&h, None), None, "a size update is pending");
        let mut copy = Headers::trailers();
        copy.push(Bytes::copy_from_slice(b"grpc-status"), Bytes::copy_from_slice(b"0"));
        assert_eq!(memo.get(&copy, state), None, "equal octets in other buffers are not trusted");
        assert_eq!(memo.get(&Headers::response(200), state), None, "another kind");
    }

    #[test]
    fn blocks_that_change_the_table_or_hold_secrets_are_not_kept() {
        let mut memo = SentMemo::default();
        let h = trailers();
        let (before, after) = (Some(TableState::for_tests(3, 4096)), Some(TableState::for_tests(4, 4096)));
        memo.put(&h, before, after, b"\x40");
        assert_eq!(memo.get(&h, after), None, "the block inserted an entry");
        let mut secret = trailers();
        secret.push_sensitive(Bytes::from_static(b"authorization"), Bytes::from_static(b"x"));
        memo.put(&secret, after, after, b"\x10");
        assert_eq!(memo.get(&secret, after), None);
        let mut timed = Headers::request("POST", "http", "a", "/s/m");
        timed.push(Bytes::from_static(b"grpc-timeout"), Bytes::from_static(b"1S"));
        memo.put(&timed, after, after, b"\x83");
        assert_eq!(memo.get(&timed, after), None, "a churning value is not worth keeping");
    }
}
