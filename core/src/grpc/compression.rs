//! Pluggable message compression (`grpc-encoding`, `grpc-accept-encoding`).
//! Identity is built in; gzip comes with the `gzip` feature; anything else
//! implements [`Compression`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// Why compressing or decompressing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompressionError {
    /// Decompressed output would exceed the limit (RESOURCE_EXHAUSTED).
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The input is not valid for the codec (INTERNAL).
    Corrupt(String),
}

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionError::TooLarge { max } => {
                write!(f, "decompressed message larger than {max} bytes")
            }
            CompressionError::Corrupt(e) => write!(f, "corrupt compressed message: {e}"),
        }
    }
}

impl std::error::Error for CompressionError {}

/// A message compression algorithm. Each message is compressed on its own
/// ("Compression contexts are NOT maintained over message boundaries").
pub trait Compression: Send + Sync + fmt::Debug {
    /// The `grpc-encoding` token, e.g. `gzip`.
    fn name(&self) -> &'static str;
    /// Appends the compressed form of `src` to `dst`.
    fn compress(&self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError>;
    /// Appends the decompressed form of `src` to `dst`, failing once more than
    /// `limit` octets would be produced (decompression bombs).
    fn decompress(&self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError>;
}

/// The algorithms an endpoint supports, in preference order.
#[derive(Clone, Debug, Default)]
pub struct Compressors {
    list: Vec<Arc<dyn Compression>>,
    accept_header: Bytes,
}

impl Compressors {
    /// Identity only.
    pub fn none() -> Self {
        Compressors::default()
    }

    /// Every algorithm compiled in (gzip with the `gzip` feature).
    pub fn builtin() -> Self {
        #[allow(unused_mut)]
        let mut c = Compressors::none();
        #[cfg(feature = "gzip")]
        c.add(Arc::new(Gzip::default()));
        c
    }

    /// Adds an algorithm (replacing one of the same name).
    pub fn add(&mut self, algo: Arc<dyn Compression>) {
        self.list.retain(|a| a.name() != algo.name());
        self.list.push(algo);
        let names: Vec<&str> =
            std::iter::once("identity").chain(self.list.iter().map(|a| a.name())).collect();
        self.accept_header = Bytes::from(names.join(",").into_bytes());
    }

    /// The algorithm for a `grpc-encoding` token (`None` for identity or unknown).
    pub fn get(&self, name: &[u8]) -> Option<&Arc<dyn Compression>> {
        self.list.iter().find(|a| a.name().as_bytes() == name)
    }

    /// True when the token is identity or a supported algorithm.
    pub fn supports(&self, name: &[u8]) -> bool {
        name == b"identity" || self.get(name).is_some()
    }

    /// The `grpc-accept-encoding` value: "identity" plus every algorithm
    /// (shared, so sending it costs no copy).
    pub fn accept_encoding(&self) -> Bytes {
        if self.accept_header.is_empty() {
            Bytes::from_static(b"identity")
        } else {
            self.accept_header.clone()
        }
    }
}

/// gzip (RFC 1952) through flate2's pure-Rust backend.
#[cfg(feature = "gzip")]
#[derive(Debug, Default)]
pub struct Gzip {
    /// Compression level 0..=9 (default 6 when `None`).
    pub level: Option<u32>,
}

#[cfg(feature = "gzip")]
impl Compression for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }

    fn compress(&self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
        use std::io::Write;
        let level = flate2::Compression::new(self.level.unwrap_or(6));
        let mut enc = flate2::write::GzEncoder::new(dst, level);
        enc.write_all(src).map_err(|e| CompressionError::Corrupt(e.to_string()))?;
        enc.finish().map_err(|e| CompressionError::Corrupt(e.to_string()))?;
        Ok(())
    }

    fn decompress(&self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
        use std::io::Read;
        let dec = flate2::read::GzDecoder::new(src);
        let start = dst.len();
        // Read one octet past the limit to tell "exactly at" from "over".
        let n = dec
            .take(limit as u64 + 1)
            .read_to_end(dst)
            .map_err(|e| CompressionError::Corrupt(e.to_string()))?;
        if n > limit {
            dst.truncate(start);
            return Err(CompressionError::TooLarge { max: limit });
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trip_and_bomb_limit() {
        let g = Gzip::default();
        let src = vec![b'a'; 100_000];
        let mut z = Vec::new();
        g.compress(&src, &mut z).unwrap();
        assert!(z.len() < 1000);
        let mut out = Vec::new();
        g.decompress(&z, &mut out, 100_000).unwrap();
        assert_eq!(out, src);
        let mut out = Vec::new();
        assert_eq!(g.decompress(&z, &mut out, 99_999), Err(CompressionError::TooLarge { max: 99_999 }));
        assert!(matches!(g.decompress(b"not gzip", &mut out, 10), Err(CompressionError::Corrupt(_))));
    }

    #[test]
    fn registry_lists_and_finds_algorithms() {
        let c = Compressors::builtin();
        assert_eq!(&c.accept_encoding()[..], b"identity,gzip");
        assert!(c.supports(b"gzip") && c.supports(b"identity") && !c.supports(b"br"));
        assert_eq!(&Compressors::none().accept_encoding()[..], b"identity");
    }
}
