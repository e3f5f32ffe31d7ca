//! HTTP/2 messages' header sections (RFC 9113 §8): pseudo-header fields kept
//! apart from regular fields, and the rules that make a received message
//! malformed (§8.1.1, §8.2, §8.3).

mod validate;

pub(crate) use validate::HeaderBuilder;
pub use validate::{BlockKind, Malformed};
pub use validate::{is_valid_name, is_valid_value};

use bytes::Bytes;

use crate::hpack::HeaderField;

/// The pseudo-header fields of a request or response (§8.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pseudo {
    /// `:method` (requests).
    pub method: Option<Bytes>,
    /// `:scheme` (requests).
    pub scheme: Option<Bytes>,
    /// `:authority` (requests).
    pub authority: Option<Bytes>,
    /// `:path` (requests).
    pub path: Option<Bytes>,
    /// `:protocol` (extended CONNECT, RFC 8441).
    pub protocol: Option<Bytes>,
    /// `:status` (responses).
    pub status: Option<u16>,
}

/// One header section: pseudo-header fields plus regular fields in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    /// Pseudo-header fields.
    pub pseudo: Pseudo,
    /// Regular fields, in wire order.
    pub fields: Vec<HeaderField>,
}

impl Headers {
    /// A request header section with the four request pseudo-header fields.
    pub fn request(
        method: impl Into<Bytes>,
        scheme: impl Into<Bytes>,
        authority: impl Into<Bytes>,
        path: impl Into<Bytes>,
    ) -> Self {
        Headers {
            pseudo: Pseudo {
                method: Some(method.into()),
                scheme: Some(scheme.into()),
                authority: Some(authority.into()),
                path: Some(path.into()),
                ..Pseudo::default()
            },
            fields: Vec::new(),
        }
    }

    /// A response header section with `:status`.
    pub fn response(status: u16) -> Self {
        Headers { pseudo: Pseudo { status: Some(status), ..Pseudo::default() }, fields: Vec::new() }
    }

    /// A trailer section (no pseudo-header fields).
    pub fn trailers() -> Self {
        Headers::default()
    }

    /// Appends a regular field.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> &mut Self {
        self.fields.push(HeaderField::new(name, value));
        self
    }

    /// Appends a field that must never be indexed by HPACK (credentials).
    pub fn push_sensitive(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> &mut Self {
        self.fields.push(HeaderField::sensitive(name, value));
        self
    }

    /// The first value of a regular field.
    pub fn get(&self, name: &[u8]) -> Option<&Bytes> {
        self.fields.iter().find(|f| f.name.as_ref() == name).map(|f| &f.value)
    }

    /// All values of a regular field.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields.iter().filter(move |f| f.name.as_ref() == name).map(|f| &f.value)
    }

    /// Size as counted against SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2): every
    /// field's name + value + 32, pseudo-header fields included.
    pub fn list_size(&self) -> usize {
        let p = &self.pseudo;
        let pseudo = [
            (":method", p.method.as_ref().map(Bytes::len)),
            (":scheme", p.scheme.as_ref().map(Bytes::len)),
            (":authority", p.authority.as_ref().map(Bytes::len)),
            (":path", p.path.as_ref().map(Bytes::len)),
            (":protocol", p.protocol.as_ref().map(Bytes::len)),
            (":status", p.status.map(|_| 3)),
        ]
        .iter()
        .filter_map(|(n, v)| v.map(|v| n.len() + v + 32))
        .sum::<usize>();
        pseudo + self.fields.iter().map(HeaderField::size).sum::<usize>()
    }
}
