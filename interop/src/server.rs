//! The interop TestService, written against the byte-level router so it can
//! check and choose compression message by message, as the cases require.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use prost::Message;
use weir_rt::runtime::Net;
use weir_rt::server::ResponseStream;
use weir_rt::{Code, Metadata, Method, OutMessage, Request, Response, Server, Status, Streaming};

use crate::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

const SERVICE: &str = "/grpc.testing.TestService/";
const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

fn decode<M: Message + Default>(b: Bytes) -> Result<M, Status> {
    M::decode(b).map_err(|e| Status::new(Code::InvalidArgument, format!("bad request: {e}")))
}

fn zeros(n: i32) -> Payload {
    Payload { r#type: 0, body: vec![0; n.max(0) as usize] }
}

/// Echo Metadata: the initial key back as header metadata, the trailing key
/// back as trailing metadata.
fn echo_metadata(req: &Metadata) -> (Metadata, Metadata) {
    let (mut initial, mut trailing) = (Metadata::new(), Metadata::new());
    if let Some(v) = req.get(ECHO_INITIAL) {
        let _ = initial.append_bytes(Bytes::from_static(ECHO_INITIAL.as_bytes()), v.clone());
    }
    if let Some(v) = req.get(ECHO_TRAILING) {
        let _ = trailing.append_bin(ECHO_TRAILING, v.clone());
    }
    (initial, trailing)
}

/// Echo Status: a non-zero `response_status` ends the call with it.
fn echo_status(s: &Option<EchoStatus>, trailing: &Metadata) -> Result<(), Status> {
    match s {
        Some(e) if e.code != 0 => {
            Err(Status::new(Code::from_i32(e.code), e.message.clone()).with_metadata(trailing.clone()))
        }
        _ => Ok(()),
    }
}

/// CompressedRequest: `expect_compressed` with an uncompressed message fails.
fn check_compressed(expect: Option<bool>, compressed: bool) -> Result<(), Status> {
    match expect {
        Some(true) if !compressed => Err(Status::new(Code::InvalidArgument, "expected a compressed message")),
        Some(false) if compressed => {
            Err(Status::new(Code::InvalidArgument, "expected an uncompressed message"))
        }
        _ => Ok(()),
    }
}

fn respond(data: Bytes, initial: Metadata, trailing: Metadata) -> Response<Bytes> {
    Response::from_parts(initial, data, trailing)
}

/// Adds every TestService method (but UnimplementedCall) to `server`.
pub fn test_service<R: Net>(server: Server<R>, rt: R) -> Server<R> {
    let (rt1, rt2) = (rt.clone(), rt);
    server
        .route(
            &format!("{SERVICE}EmptyCall"),
            Method::unary(|req| async move {
                let (initial, trailing) = echo_metadata(req.metadata());
                decode::<Empty>(req.into_inner())?;
                Ok(respond(Empty {}.encode_to_vec().into(), initial, trailing))
            }),
        )
        .route(&format!("{SERVICE}UnaryCall"), Method::unary(|req| async move { unary_call(req) }))
        .route(&format!("{SERVICE}CacheableUnaryCall"), Method::unary(|req| async move { unary_call(req) }))
        .route(
            &format!("{SERVICE}StreamingOutputCall"),
            Method::server_streaming(move |req: Request<Bytes>| {
                let rt = rt1.clone();
                async move {
                    let (initial, trailing) = echo_metadata(req.metadata());
                    let r: StreamingOutputCallRequest = decode(req.into_inner())?;
                    echo_status(&r.response_status, &trailing)?;
                    let out = responses(rt, r.response_parameters);
                    let mut resp = Response::from_parts(initial, out, trailing);
                    resp.set_compression("gzip");
                    Ok(resp)
                }
            }),
        )
        .route(
            &format!("{SERVICE}StreamingInputCall"),
            Method::client_streaming(|req: Request<Streaming<Bytes>>| async move {
                let (initial, trailing) = echo_metadata(req.metadata());
                let mut s = req.into_inner();
                let mut total = 0;
                while let Some(b) = s.message().await? {
                    let r: StreamingInputCallRequest = decode(b)?;
                    check_compressed(r.expect_compressed.map(|v| v.value), s.last_message_compressed())?;
                    total += r.payload.map_or(0, |p| p.body.len()) as i32;
                }
                let resp = StreamingInputCallResponse { aggregated_payload_size: total };
                Ok(respond(resp.encode_to_vec().into(), initial, trailing))
            }),
        )
        .route(&format!("{SERVICE}FullDuplexCall"), duplex(rt2.clone(), false))
        .route(&format!("{SERVICE}HalfDuplexCall"), duplex(rt2, true))
}

fn unary_call(req: Request<Bytes>) -> Result<Response<Bytes>, Status> {
    let (initial, trailing) = echo_metadata(req.metadata());
    let compressed = req.message_compressed();
    let r: SimpleRequest = decode(req.into_inner())?;
    check_compressed(r.expect_compressed.map(|v| v.value), compressed)?;
    echo_status(&r.response_status, &trailing)?;
    let resp = SimpleResponse { payload: Some(zeros(r.response_size)), ..Default::default() };
    let mut resp = respond(resp.encode_to_vec().into(), initial, trailing);
    if r.response_compressed.is_some_and(|v| v.value) {
        resp.set_compression("gzip");
    }
    Ok(resp)
}

/// The responses one StreamingOutputCallRequest asks for, each after its
/// `interval_us`, compressed or not as it says.
fn responses<R: Net>(rt: R, params: Vec<ResponseParameters>) -> ResponseStream {
    let s = futures::stream::iter(params).then(move |p| {
        let rt = rt.clone();
        async move {
            if p.interval_us > 0 {
                rt.sleep_until(rt.now() + Duration::from_micros(p.interval_us as u64)).await;
            }
            let msg = StreamingOutputCallResponse { payload: Some(zeros(p.size)) }.encode_to_vec();
            let compress = p.compressed.is_some_and(|c| c.value);
            Ok(OutMessage::new(msg.into(), compress))
        }
    });
    Box::pin(s)
}

/// FullDuplexCall answers each request as it arrives; HalfDuplexCall (`half`)
/// first collects them all.
fn duplex<R: Net>(rt: R, half: bool) -> Method {
    Method::bidi(move |req: Request<Streaming<Bytes>>| {
        let rt = rt.clone();
        async move {
            let (initial, trailing) = echo_metadata(req.metadata());
            let requests = req.into_inner();
            // The trailers go out with the stream's end, error or not.
            let decoded = requests.map(move |b| -> Result<StreamingOutputCallRequest, Status> {
                let r: StreamingOutputCallRequest = decode(b?)?;
                echo_status(&r.response_status, &Metadata::new())?;
                Ok(r)
            });
            let out: ResponseStream = if half {
                let all: Vec<_> = decoded.collect().await;
                let params: Result<Vec<_>, Status> =
                    all.into_iter().map(|r| r.map(|r| r.response_parameters)).collect();
                match params {
                    Ok(p) => responses(rt, p.into_iter().flatten().collect()),
                    Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
                }
            } else {
                Box::pin(decoded.flat_map(move |r| match r {
                    Ok(r) => responses(rt.clone(), r.response_parameters),
                    Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
                }))
            };
            let mut resp = Response::from_parts(initial, out, trailing);
            resp.set_compression("gzip");
            Ok(resp)
        }
    })
}
