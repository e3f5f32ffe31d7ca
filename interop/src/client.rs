//! The standard interop client cases (grpc/doc/interop-test-descriptions.md),
//! each returning `Err(reason)` on the first failed assertion.

use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use weir_rt::{Channel, Code, OutMessage, Request, Status};

use crate::testing::test_service_client::TestServiceClient;
use crate::testing::unimplemented_service_client::UnimplementedServiceClient;
use crate::testing::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
};

/// Every case, in the official order.
pub const CASES: [&str; 18] = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "custom_metadata",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// The standard cases that need a full-duplex stream (a reply before the
/// request ends), which gRPC-Web over HTTP/1.1 cannot carry.
pub const FULL_DUPLEX_CASES: [&str; 2] = ["ping_pong", "cancel_after_first_response"];

/// Cases run only when named (not part of `all`).
pub const EXTRA_CASES: [&str; 1] = [
    // Four 1 MiB responses (4 MiB in all): several flow-control windows, so
    // a gRPC-Go client sends BDP pings while the response is written.
    "server_streaming_4mib",
];

type CaseResult = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(format!($($msg)*));
        }
    };
}

fn fail(s: Status) -> String {
    format!("unexpected status {s}")
}

fn zeros(n: usize) -> Option<Payload> {
    Some(Payload { r#type: 0, body: vec![0; n] })
}

fn params(sizes: &[i32]) -> Vec<ResponseParameters> {
    sizes.iter().map(|&size| ResponseParameters { size, ..Default::default() }).collect()
}

fn large_request() -> SimpleRequest {
    SimpleRequest { response_size: 314_159, payload: zeros(271_828), ..Default::default() }
}

/// Runs one case by name.
pub async fn run(ch: &Channel, case: &str) -> CaseResult {
    let c = TestServiceClient::new(ch.clone());
    match case {
        "empty_unary" => {
            c.empty_call(Empty {}).await.map_err(fail)?;
            Ok(())
        }
        "large_unary" => {
            let r = c.unary_call(large_request()).await.map_err(fail)?.into_inner();
            check_payload(&r, 314_159)
        }
        "client_streaming" => {
            let reqs = [27_182, 8, 1_828, 45_904]
                .map(|n| StreamingInputCallRequest { payload: zeros(n), ..Default::default() });
            let r = c.streaming_input_call(futures::stream::iter(reqs)).await.map_err(fail)?.into_inner();
            ensure!(r.aggregated_payload_size == 74_922, "aggregated {}", r.aggregated_payload_size);
            Ok(())
        }
        "server_streaming" => {
            let req = StreamingOutputCallRequest {
                response_parameters: params(&[31_415, 9, 2_653, 58_979]),
                ..Default::default()
            };
            let mut s = c.streaming_output_call(req).await.map_err(fail)?.into_inner();
            let mut sizes = Vec::new();
            while let Some(r) = s.message().await.map_err(fail)? {
                sizes.push(r.payload.map_or(0, |p| p.body.len()));
            }
            ensure!(sizes == [31_415, 9, 2_653, 58_979], "sizes {sizes:?}");
            Ok(())
        }
        "server_streaming_4mib" => {
            const MIB: usize = 1 << 20;
            let req = StreamingOutputCallRequest {
                response_parameters: params(&[MIB as i32; 4]),
                ..Default::default()
            };
            let mut s = c.streaming_output_call(req).await.map_err(fail)?.into_inner();
            let mut n = 0;
            while let Some(r) = s.message().await.map_err(fail)? {
                let body = r.payload.map(|p| p.body).unwrap_or_default();
                ensure!(
                    body.len() == MIB && body.iter().all(|&b| b == 0),
                    "response {n}: {} bytes",
                    body.len()
                );
                n += 1;
            }
            ensure!(n == 4, "{n} responses");
            Ok(())
        }
        "ping_pong" => ping_pong(&c).await,
        "empty_stream" => {
            let mut s = c.full_duplex_call(futures::stream::empty()).await.map_err(fail)?.into_inner();
            ensure!(s.message().await.map_err(fail)?.is_none(), "expected no response");
            Ok(())
        }
        "timeout_on_sleeping_server" => {
            let (tx, rx) = futures::channel::mpsc::unbounded();
            let mut req = Request::new(rx);
            req.set_timeout(Duration::from_millis(1));
            let first = StreamingOutputCallRequest { payload: zeros(27_182), ..Default::default() };
            let _ = tx.unbounded_send(first);
            let result = match c.full_duplex_call(req).await {
                Ok(resp) => resp.into_inner().message().await.map(|_| ()),
                Err(e) => Err(e),
            };
            drop(tx);
            match result {
                Err(s) if s.code == Code::DeadlineExceeded => Ok(()),
                other => Err(format!("expected DEADLINE_EXCEEDED, got {other:?}")),
            }
        }
        "cancel_after_begin" => {
            // The call's request stream never produces: cancel right after it began.
            let s = ch
                .streaming(
                    "/grpc.testing.TestService/StreamingInputCall",
                    Request::new(futures::stream::pending::<Bytes>()),
                )
                .await
                .map_err(fail)?;
            let mut s = s.into_inner();
            s.cancel();
            match s.message().await {
                Err(st) if st.code == Code::Cancelled => Ok(()),
                other => Err(format!("expected CANCELLED, got {other:?}")),
            }
        }
        "cancel_after_first_response" => {
            let (tx, rx) = futures::channel::mpsc::unbounded();
            let mut s = c.full_duplex_call(rx).await.map_err(fail)?.into_inner();
            let first = StreamingOutputCallRequest {
                response_parameters: params(&[31_415]),
                payload: zeros(27_182),
                ..Default::default()
            };
            let _ = tx.unbounded_send(first);
            let r = s.message().await.map_err(fail)?.ok_or("no response")?;
            ensure!(r.payload.map_or(0, |p| p.body.len()) == 31_415, "wrong first response");
            s.cancel();
            match s.message().await {
                Err(st) if st.code == Code::Cancelled => Ok(()),
                other => Err(format!("expected CANCELLED, got {other:?}")),
            }
        }
        "status_code_and_message" => status_echo(&c, "test status message").await,
        "special_status_message" => {
            status_echo(&c, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n").await
        }
        "unimplemented_method" => {
            let r = ch.unary("/grpc.testing.TestService/UnimplementedCall", Request::new(Bytes::new())).await;
            expect_code(r.map(|_| ()), Code::Unimplemented)
        }
        "unimplemented_service" => {
            let r = UnimplementedServiceClient::new(ch.clone()).unimplemented_call(Empty {}).await;
            expect_code(r.map(|_| ()), Code::Unimplemented)
        }
        "custom_metadata" => custom_metadata(&c).await,
        "client_compressed_unary" => client_compressed_unary(&c).await,
        "server_compressed_unary" => {
            for compressed in [true, false] {
                let req = SimpleRequest {
                    response_compressed: Some(BoolValue { value: compressed }),
                    ..large_request()
                };
                let resp = c.unary_call(req).await.map_err(fail)?;
                ensure!(
                    resp.message_compressed() == compressed,
                    "compressed flag {}",
                    resp.message_compressed()
                );
                check_payload(resp.get_ref(), 314_159)?;
            }
            Ok(())
        }
        "client_compressed_streaming" => client_compressed_streaming(ch).await,
        "server_compressed_streaming" => {
            let mut p = params(&[31_415, 92_653]);
            p[0].compressed = Some(BoolValue { value: true });
            p[1].compressed = Some(BoolValue { value: false });
            let req = StreamingOutputCallRequest { response_parameters: p, ..Default::default() };
            let mut s = c.streaming_output_call(req).await.map_err(fail)?.into_inner();
            let mut seen = Vec::new();
            while let Some(r) = s.message().await.map_err(fail)? {
                seen.push((r.payload.map_or(0, |p| p.body.len()), s.last_message_compressed()));
            }
            ensure!(seen == [(31_415, true), (92_653, false)], "responses {seen:?}");
            Ok(())
        }
        other => Err(format!("unknown test case {other}")),
    }
}

fn check_payload(r: &SimpleResponse, n: usize) -> CaseResult {
    let body = r.payload.as_ref().map(|p| &p.body[..]).unwrap_or_default();
    ensure!(body.len() == n && body.iter().all(|&b| b == 0), "payload of {} bytes", body.len());
    Ok(())
}

fn expect_code(r: Result<(), Status>, code: Code) -> CaseResult {
    match r {
        Err(s) if s.code == code => Ok(()),
        other => Err(format!("expected {code}, got {other:?}")),
    }
}

async fn ping_pong(c: &TestServiceClient) -> CaseResult {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut s = c.full_duplex_call(rx).await.map_err(fail)?.into_inner();
    for (resp, req) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        let m = StreamingOutputCallRequest {
            response_parameters: params(&[resp]),
            payload: zeros(req),
            ..Default::default()
        };
        tx.unbounded_send(m).map_err(|e| e.to_string())?;
        let r = s.message().await.map_err(fail)?.ok_or("stream ended early")?;
        ensure!(r.payload.map_or(0, |p| p.body.len()) == resp as usize, "response size");
    }
    drop(tx);
    ensure!(s.message().await.map_err(fail)?.is_none(), "expected the end");
    Ok(())
}

async fn status_echo(c: &TestServiceClient, message: &str) -> CaseResult {
    let status = Some(EchoStatus { code: 2, message: message.to_owned() });
    let r = c.unary_call(SimpleRequest { response_status: status.clone(), ..Default::default() }).await;
    match r {
        Err(s) if s.code == Code::Unknown && s.message == message => {}
        other => return Err(format!("unary: expected UNKNOWN {message:?}, got {other:?}")),
    }
    let req = StreamingOutputCallRequest { response_status: status, ..Default::default() };
    let result = match c.full_duplex_call(futures::stream::iter([req])).await {
        Ok(resp) => resp.into_inner().message().await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Err(s) if s.code == Code::Unknown && s.message == message => Ok(()),
        other => Err(format!("duplex: expected UNKNOWN {message:?}, got {other:?}")),
    }
}

async fn custom_metadata(c: &TestServiceClient) -> CaseResult {
    fn with_md<T>(msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.metadata_mut().append("x-grpc-test-echo-initial", "test_initial_metadata_value").expect("ascii");
        r.metadata_mut().append_bin("x-grpc-test-echo-trailing-bin", vec![0xab, 0xab, 0xab]).expect("bin");
        r
    }
    let check = |initial: &weir_rt::Metadata, trailing: &weir_rt::Metadata| -> CaseResult {
        ensure!(
            initial.get_str("x-grpc-test-echo-initial") == Some("test_initial_metadata_value"),
            "initial metadata {initial:?}"
        );
        ensure!(
            trailing.get("x-grpc-test-echo-trailing-bin").map(|v| &v[..]) == Some(&[0xab, 0xab, 0xab][..]),
            "trailing metadata {trailing:?}"
        );
        Ok(())
    };
    let resp = c.unary_call(with_md(large_request())).await.map_err(fail)?;
    check(resp.metadata(), resp.trailers())?;
    let req = StreamingOutputCallRequest {
        response_parameters: params(&[314_159]),
        payload: zeros(271_828),
        ..Default::default()
    };
    let mut s = c.full_duplex_call(with_md(futures::stream::iter([req]))).await.map_err(fail)?.into_inner();
    let initial = s.headers().await.map_err(fail)?;
    while s.message().await.map_err(fail)?.is_some() {}
    let trailing = s.trailers().await.map_err(fail)?;
    check(&initial, &trailing)
}

async fn client_compressed_unary(c: &TestServiceClient) -> CaseResult {
    let req = |expect: bool| SimpleRequest {
        expect_compressed: Some(BoolValue { value: expect }),
        ..large_request()
    };
    // The probe: an uncompressed message claiming to be compressed.
    expect_code(c.unary_call(req(true)).await.map(|_| ()), Code::InvalidArgument)?;
    let mut compressed = Request::new(req(true));
    compressed.set_compression("gzip");
    check_payload(c.unary_call(compressed).await.map_err(fail)?.get_ref(), 314_159)?;
    check_payload(c.unary_call(req(false)).await.map_err(fail)?.get_ref(), 314_159)
}

async fn client_compressed_streaming(ch: &Channel) -> CaseResult {
    const PATH: &str = "/grpc.testing.TestService/StreamingInputCall";
    let msg = |expect: bool, n: usize| -> Bytes {
        StreamingInputCallRequest { payload: zeros(n), expect_compressed: Some(BoolValue { value: expect }) }
            .encode_to_vec()
            .into()
    };
    // The probe: must be rejected.
    let probe = ch.client_streaming(PATH, Request::new(futures::stream::iter([msg(true, 27_182)]))).await;
    expect_code(probe.map(|_| ()), Code::InvalidArgument)?;
    // First message compressed, second not.
    let items = [OutMessage::new(msg(true, 27_182), true), OutMessage::new(msg(false, 45_904), false)];
    let mut req = Request::new(futures::stream::iter(items));
    req.set_compression("gzip");
    let r = ch.client_streaming(PATH, req).await.map_err(fail)?;
    let r = StreamingInputCallResponse::decode(r.into_inner()).map_err(|e| e.to_string())?;
    ensure!(r.aggregated_payload_size == 73_086, "aggregated {}", r.aggregated_payload_size);
    Ok(())
}
