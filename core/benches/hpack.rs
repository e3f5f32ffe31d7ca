//! HPACK decode and encode: Weir against h2 on the same inputs.
//!
//! Inputs: all blocks of a few hpack-test-case stories, and a typical gRPC
//! request header block, first on an empty table and then repeated (warm).
//!
//! h2's HPACK module is private; with its `unstable` feature `h2::Codec` and
//! `h2::frame` are public, so h2 is timed through a `Codec` over in-memory
//! I/O, polled with a no-op waker. Its numbers therefore include what h2
//! always does around HPACK: the 9-octet frame head, copying the frame out of
//! its read buffer, header name/value validation, `HeaderMap` building (for
//! decoding) and writing the frame to the I/O (for encoding). Weir's decode
//! numbers include collecting the fields into a reused `Vec`.

#![allow(missing_docs)]

#[path = "../tests/hpack_support/mod.rs"]
mod hpack_support;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_core::Stream;
use h2::frame::{Frame, Headers, Pseudo, StreamId};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use weir_core::hpack::{Decoder, Encoder, HeaderField};

/// Stories used as inputs: longer ones, requests only (story_20) and
/// requests and responses (the others), from three encoders. Most corpus
/// stories carry HTTP/1.1 fields such as `connection`, which h2 rejects as a
/// malformed message (a stream error) after decoding the whole block, so
/// such frames are counted as decoded.
const STORIES: [&str; 4] = [
    "nghttp2/story_20.json",
    "nghttp2/story_30.json",
    "go-hpack/story_25.json",
    "python-hpack/story_29.json",
];

/// In-memory I/O: reads from a buffer (pending, not EOF, when empty) and
/// counts what is written.
#[derive(Default)]
struct MemIo {
    input: Vec<u8>,
    read_pos: usize,
    written: Vec<u8>,
}

impl MemIo {
    fn feed(&mut self, octets: &[u8]) {
        if self.read_pos == self.input.len() {
            self.input.clear();
            self.read_pos = 0;
        }
        self.input.extend_from_slice(octets);
    }
}

impl AsyncRead for MemIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let io = &mut *self;
        let available = &io.input[io.read_pos..];
        if available.is_empty() {
            return Poll::Pending;
        }
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        io.read_pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemIo {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

type H2Codec = h2::Codec<MemIo, Bytes>;

fn context() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// A HEADERS frame (END_HEADERS) carrying `block` on stream `stream_id`.
fn headers_frame(block: &[u8], stream_id: u32) -> Vec<u8> {
    let len = u32::try_from(block.len()).expect("small block");
    assert!(len < 16_384, "one frame");
    let mut frame = len.to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[0x1, 0x4]);
    frame.extend_from_slice(&stream_id.to_be_bytes());
    frame.extend_from_slice(block);
    frame
}

/// Polls `codec` for `frames` frames; returns how many were HEADERS and how
/// many were stream errors (malformed messages, decoded in full first).
fn h2_read_frames(codec: &mut H2Codec, frames: usize) -> (usize, usize) {
    let mut cx = context();
    let (mut headers, mut stream_errors) = (0, 0);
    for _ in 0..frames {
        match Pin::new(&mut *codec).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(Frame::Headers(frame)))) => {
                black_box(&frame);
                headers += 1;
            }
            Poll::Ready(Some(Err(h2::proto::Error::Reset(..)))) => stream_errors += 1,
            other => panic!("unexpected h2 codec result {other:?}"),
        }
    }
    (headers, stream_errors)
}

/// Buffers and flushes one frame.
fn h2_write_frame(codec: &mut H2Codec, frame: Headers) {
    let mut cx = context();
    codec.buffer(Frame::Headers(frame)).expect("buffer");
    match codec.flush(&mut cx) {
        Poll::Ready(result) => result.expect("flush"),
        Poll::Pending => panic!("flush pending"),
    }
}

/// A header list as h2 takes it: pseudo-headers and a `HeaderMap`.
#[derive(Clone)]
struct H2List {
    pseudo: PseudoParts,
    fields: HeaderMap,
}

/// `Pseudo` is not `Clone`; keep what rebuilds it.
#[derive(Clone)]
enum PseudoParts {
    Request(Method, Uri),
    Response(StatusCode),
}

impl H2List {
    fn frame(&self, stream_id: u32) -> Headers {
        let pseudo = match &self.pseudo {
            PseudoParts::Request(method, uri) => Pseudo::request(method.clone(), uri.clone(), None),
            PseudoParts::Response(status) => Pseudo::response(*status),
        };
        Headers::new(StreamId::from(stream_id), pseudo, self.fields.clone())
    }

    /// Converts a header list; `None` if h2 cannot represent it.
    fn from_fields(fields: &[HeaderField]) -> Option<H2List> {
        let (mut method, mut scheme, mut authority, mut path, mut status) = (None, None, None, None, None);
        let mut map = HeaderMap::new();
        for field in fields {
            let value = std::str::from_utf8(&field.value).ok();
            match &field.name[..] {
                b":method" => method = Some(Method::from_bytes(&field.value).ok()?),
                b":scheme" => scheme = value,
                b":authority" => authority = value,
                b":path" => path = value,
                b":status" => status = Some(StatusCode::from_bytes(&field.value).ok()?),
                name => {
                    let name = HeaderName::from_bytes(name).ok()?;
                    map.append(name, HeaderValue::from_bytes(&field.value).ok()?);
                }
            }
        }
        let pseudo = match (method, status) {
            (Some(method), None) => {
                let uri = format!("{}://{}{}", scheme?, authority?, path?).parse().ok()?;
                PseudoParts::Request(method, uri)
            }
            (None, Some(status)) => PseudoParts::Response(status),
            _ => return None,
        };
        Some(H2List { pseudo, fields: map })
    }
}

fn grpc_request() -> Vec<HeaderField> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/helloworld.Greeter/SayHello"),
        (":authority", "localhost:50051"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-accept-encoding", "gzip"),
        ("user-agent", "grpc-rust-weir/0.1"),
        ("grpc-timeout", "1S"),
    ]
    .into_iter()
    .map(|(name, value)| HeaderField::new(name, value))
    .collect()
}

/// One bench input: the blocks (as some encoder wrote them) and the header lists.
struct Input {
    name: String,
    blocks: Vec<Bytes>,
    lists: Vec<Vec<HeaderField>>,
    h2_lists: Vec<H2List>,
}

fn story_inputs() -> Vec<Input> {
    let stories = hpack_support::load_stories();
    STORIES
        .iter()
        .map(|path| {
            let story = stories.iter().find(|story| story.path == *path).expect("story present");
            assert!(story.cases.iter().all(|case| case.header_table_size.is_none_or(|size| size == 4096)));
            let lists: Vec<Vec<HeaderField>> = story
                .cases
                .iter()
                .map(|case| {
                    case.headers
                        .iter()
                        .map(|(name, value)| HeaderField::new(name.clone(), value.clone()))
                        .collect()
                })
                .collect();
            let h2_lists =
                lists.iter().map(|list| H2List::from_fields(list).expect("h2 can represent it")).collect();
            let blocks: Vec<Bytes> =
                story.cases.iter().map(|case| Bytes::copy_from_slice(&case.wire)).collect();
            let (headers, stream_errors) = h2_read_frames(&mut h2_codec_with(&blocks), blocks.len());
            assert_eq!(headers + stream_errors, blocks.len(), "{path}");
            println!(
                "{path}: {} blocks, {stream_errors} rejected by h2 as malformed after decoding",
                blocks.len()
            );
            Input { name: path.replace(".json", "").replace('/', "-"), blocks, lists, h2_lists }
        })
        .collect()
}

fn weir_decode_all(decoder: &mut Decoder, blocks: &[Bytes], fields: &mut Vec<HeaderField>) {
    for block in blocks {
        fields.clear();
        decoder.decode(block, usize::MAX, |field| fields.push(field)).expect("weir decodes");
        black_box(&fields);
    }
}

fn h2_codec_with(blocks: &[Bytes]) -> H2Codec {
    let mut io = MemIo::default();
    for (stream, block) in blocks.iter().enumerate() {
        io.feed(&headers_frame(block, 2 * stream as u32 + 1));
    }
    let mut codec = H2Codec::new(io);
    codec.set_max_recv_header_list_size(16 << 20);
    codec
}

fn bench_stories(c: &mut Criterion) {
    for input in story_inputs() {
        let blocks = input.blocks.len();

        let mut group = c.benchmark_group(format!("story/{}", input.name));
        group.throughput(Throughput::Elements(blocks as u64));
        let mut fields = Vec::with_capacity(64);
        group.bench_function("decode/weir", |b| {
            b.iter(|| weir_decode_all(&mut Decoder::new(4096), &input.blocks, &mut fields))
        });
        group.bench_function("decode/h2", |b| {
            b.iter_batched(
                || h2_codec_with(&input.blocks),
                |mut codec| h2_read_frames(&mut codec, blocks),
                BatchSize::LargeInput,
            )
        });
        let mut dst = Vec::with_capacity(4096);
        group.bench_function("encode/weir", |b| {
            b.iter(|| {
                let mut encoder = Encoder::new();
                for list in &input.lists {
                    dst.clear();
                    encoder.encode(list, &mut dst);
                    black_box(&dst);
                }
            })
        });
        group.bench_function("encode/h2", |b| {
            b.iter_batched(
                || {
                    let frames: Vec<Headers> = input
                        .h2_lists
                        .iter()
                        .enumerate()
                        .map(|(i, list)| list.frame(2 * i as u32 + 1))
                        .collect();
                    (H2Codec::new(MemIo::default()), frames)
                },
                |(mut codec, frames)| {
                    for frame in frames {
                        h2_write_frame(&mut codec, frame);
                        codec.get_mut().written.clear();
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn bench_grpc(c: &mut Criterion) {
    let fields = grpc_request();
    let h2_list = H2List::from_fields(&fields).expect("h2 list");
    let mut encoder = Encoder::new();
    let mut first = Vec::new();
    encoder.encode(&fields, &mut first);
    let mut warm = Vec::new();
    encoder.encode(&fields, &mut warm);
    let (first, warm) = (Bytes::from(first), Bytes::from(warm));

    let mut group = c.benchmark_group("grpc-request");
    group.throughput(Throughput::Elements(1));
    let mut decoded = Vec::with_capacity(16);

    // First block, empty table.
    group.bench_function("decode-first/weir", |b| {
        b.iter(|| weir_decode_all(&mut Decoder::new(4096), std::slice::from_ref(&first), &mut decoded))
    });
    group.bench_function("decode-first/h2", |b| {
        b.iter_batched(
            || h2_codec_with(std::slice::from_ref(&first)),
            |mut codec| assert_eq!(h2_read_frames(&mut codec, 1), (1, 0)),
            BatchSize::SmallInput,
        )
    });
    // Baseline: h2 decoding a 1-octet block (`:method GET`) on a new codec.
    let trivial = Bytes::from_static(&[0x82]);
    group.bench_function("decode-trivial/h2", |b| {
        b.iter_batched(
            || h2_codec_with(std::slice::from_ref(&trivial)),
            |mut codec| h2_read_frames(&mut codec, 1),
            BatchSize::SmallInput,
        )
    });

    // Repeated block, warm table.
    let mut decoder = Decoder::new(4096);
    weir_decode_all(&mut decoder, std::slice::from_ref(&first), &mut decoded);
    group.bench_function("decode-warm/weir", |b| {
        b.iter(|| weir_decode_all(&mut decoder, std::slice::from_ref(&warm), &mut decoded))
    });
    let mut codec = h2_codec_with(std::slice::from_ref(&first));
    assert_eq!(h2_read_frames(&mut codec, 1), (1, 0));
    let warm_frame = headers_frame(&warm, 1);
    group.bench_function("decode-warm/h2", |b| {
        b.iter(|| {
            codec.get_mut().feed(&warm_frame);
            h2_read_frames(&mut codec, 1)
        })
    });

    let mut dst = Vec::with_capacity(256);
    group.bench_function("encode-first/weir", |b| {
        b.iter(|| {
            dst.clear();
            Encoder::new().encode(&fields, &mut dst);
            black_box(&dst);
        })
    });
    group.bench_function("encode-first/h2", |b| {
        b.iter_batched(
            || (H2Codec::new(MemIo::default()), h2_list.frame(1)),
            |(mut codec, frame)| h2_write_frame(&mut codec, frame),
            BatchSize::SmallInput,
        )
    });
    let mut encoder = Encoder::new();
    encoder.encode(&fields, &mut Vec::new());
    group.bench_function("encode-warm/weir", |b| {
        b.iter(|| {
            dst.clear();
            encoder.encode(&fields, &mut dst);
            black_box(&dst);
        })
    });
    let mut codec = H2Codec::new(MemIo::default());
    h2_write_frame(&mut codec, h2_list.frame(1));
    group.bench_function("encode-warm/h2", |b| {
        b.iter_batched(
            || h2_list.frame(1),
            |frame| {
                h2_write_frame(&mut codec, frame);
                codec.get_mut().written.clear();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_grpc, bench_stories);
criterion_main!(benches);
