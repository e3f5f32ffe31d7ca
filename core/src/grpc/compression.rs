//! Pluggable message compression (`grpc-encoding`, `grpc-accept-encoding`).
//! Identity is built in; gzip and deflate come with the `gzip` feature, zstd
//! with the `zstd` feature; anything else implements [`Compression`].

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

    /// Every algorithm compiled in (gzip and deflate with the `gzip`
    /// feature, zstd with the `zstd` feature).
    pub fn builtin() -> Self {
        #[allow(unused_mut)]
        let mut c = Compressors::none();
        #[cfg(feature = "gzip")]
        {
            c.add(Arc::new(Gzip::default()));
            c.add(Arc::new(Deflate::default()));
        }
        #[cfg(feature = "zstd")]
        c.add(Arc::new(Zstd::default()));
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
        let level = flate2::Compression::new(self.level.unwrap_or(6));
        write_all(flate2::write::GzEncoder::new(dst, level), src, |e| e.finish().map(drop))
    }

    fn decompress(&self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
        read_limited(flate2::read::GzDecoder::new(src), dst, limit)
    }
}

/// gRPC's `deflate`: the zlib format (RFC 1950 around RFC 1951), as gRPC's
/// C core and Java implement it; flate2's pure-Rust backend.
#[cfg(feature = "gzip")]
#[derive(Debug, Default)]
pub struct Deflate {
    /// Compression level 0..=9 (default 6 when `None`).
    pub level: Option<u32>,
}

#[cfg(feature = "gzip")]
impl Compression for Deflate {
    fn name(&self) -> &'static str {
        "deflate"
    }

    fn compress(&self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
        let level = flate2::Compression::new(self.level.unwrap_or(6));
        write_all(flate2::write::ZlibEncoder::new(dst, level), src, |e| e.finish().map(drop))
    }

    fn decompress(&self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
        read_limited(flate2::read::ZlibDecoder::new(src), dst, limit)
    }
}

/// zstd (RFC 8878) through the `zstd` crate (the reference C library).
#[cfg(feature = "zstd")]
#[derive(Debug, Default)]
pub struct Zstd {
    /// Compression level 1..=22 (default 3 when `None`).
    pub level: Option<i32>,
}

#[cfg(feature = "zstd")]
impl Compression for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn compress(&self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
        let enc = zstd::stream::write::Encoder::new(dst, self.level.unwrap_or(3)).map_err(corrupt)?;
        write_all(enc, src, |e| e.finish().map(drop))
    }

    fn decompress(&self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
        read_limited(zstd::stream::read::Decoder::new(src).map_err(corrupt)?, dst, limit)
    }
}

#[cfg(any(feature = "gzip", feature = "zstd"))]
fn corrupt(e: std::io::Error) -> CompressionError {
    CompressionError::Corrupt(e.to_string())
}

/// Feeds `src` to an encoder, then finishes it.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn write_all<W: std::io::Write>(
    mut enc: W,
    src: &[u8],
    finish: impl FnOnce(W) -> std::io::Result<()>,
) -> Result<(), CompressionError> {
    enc.write_all(src).map_err(corrupt)?;
    finish(enc).map_err(corrupt)
}

/// Decompresses from `dec` into `dst`, failing (and appending nothing) once
/// more than `limit` octets would come out: a decompression bomb never
/// allocates more than the limit.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn read_limited(dec: impl std::io::Read, dst: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
    use std::io::Read;
    let start = dst.len();
    // Read one octet past the limit to tell "exactly at" from "over".
    let n = dec.take(limit as u64 + 1).read_to_end(dst).map_err(corrupt);
    match n {
        Ok(n) if n > limit => {
            dst.truncate(start);
            Err(CompressionError::TooLarge { max: limit })
        }
        Ok(_) => Ok(()),
        Err(e) => {
            dst.truncate(start);
            Err(e)
        }
    }
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    use super::*;

    /// Round trip, the bomb limit (exactly at passes, one over fails and
    /// appends nothing), and garbage input, for one algorithm.
    fn check(algo: &dyn Compression) {
        let src = vec![b'a'; 100_000];
        let mut z = Vec::new();
        algo.compress(&src, &mut z).unwrap();
        assert!(z.len() < 1000, "{}: {} octets", algo.name(), z.len());
        let mut out = b"kept".to_vec();
        algo.decompress(&z, &mut out, 100_000).unwrap();
        assert_eq!(&out[4..], &src[..], "{}", algo.name());
        let mut out = b"kept".to_vec();
        assert_eq!(algo.decompress(&z, &mut out, 99_999), Err(CompressionError::TooLarge { max: 99_999 }));
        assert_eq!(out, b"kept", "{}: nothing appended past the limit", algo.name());
        let garbage = algo.decompress(b"not compressed at all", &mut out, 10);
        assert!(matches!(garbage, Err(CompressionError::Corrupt(_))), "{}: {garbage:?}", algo.name());
        assert_eq!(out, b"kept");
    }

    #[test]
    fn gzip_round_trip_and_bomb_limit() {
        check(&Gzip::default());
    }

    #[test]
    fn deflate_is_zlib_framed() {
        check(&Deflate::default());
        let mut z = Vec::new();
        Deflate::default().compress(b"hello", &mut z).unwrap();
        // RFC 1950: CMF 0x78 (deflate, 32 KiB window), FCHECK makes it a multiple of 31.
        assert_eq!(z[0], 0x78);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trip_and_bomb_limit() {
        check(&Zstd::default());
    }

    #[test]
    fn registry_lists_and_finds_algorithms() {
        let c = Compressors::builtin();
        let want = if cfg!(feature = "zstd") {
            &b"identity,gzip,deflate,zstd"[..]
        } else {
            b"identity,gzip,deflate"
        };
        assert_eq!(&c.accept_encoding()[..], want);
        assert!(
            c.supports(b"gzip") && c.supports(b"deflate") && c.supports(b"identity") && !c.supports(b"br")
        );
        assert_eq!(&Compressors::none().accept_encoding()[..], b"identity");
    }
}
