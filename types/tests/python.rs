//! Rich error details against grpcio (Python, the C core) and grpcio-status,
//! both ways, over loopback:
//! - a grpcio server aborts with `rpc_status.to_status(...)`; Weir's client
//!   reads every detail back typed;
//! - a Weir server fails with `Status::with_error_details(...)`; grpcio's
//!   client reads it with `rpc_status.from_call(...)` (which also checks the
//!   code and message against the call's) and prints it as JSON.
//!
//! Both sides carry the same details (`rich_details()` here, `rich_details()`
//! in `tests/python/peer.py`). The interpreter comes from
//! `scripts/setup-python.sh` (`.venv`), or `WEIR_PYTHON`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use serde_json::json;
use weir_tokio::{Code, Endpoint, Method, Request, Server, Status};
use weir_types::{Any, ErrorDetails, FieldViolation, LocalizedMessage, StatusExt};

#[path = "../../rt/tests/python/interpreter.rs"]
mod interpreter;
use interpreter::{PythonServer, python};

const METHOD: &str = "/weir.test.Details/Fail";
const MESSAGE: &str = "invalid request ☺ 100%";

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py")
}

/// Every standard detail with every field set somewhere, and one packed
/// message of another type (a `google.protobuf.StringValue`).
fn rich_details() -> ErrorDetails {
    let mut d = ErrorDetails::new()
        .with_retry_info(Some(Duration::from_millis(3250)))
        .with_stack_entries(["at a()", "at b()"])
        .with_debug_info("boom")
        .with_quota_violation("user:42", "daily limit")
        .with_error_info("QUOTA_EXCEEDED", "example.com")
        .with_error_metadata("limit", "100")
        .with_error_metadata("unit", "requests/day")
        .with_precondition_violation("TOS", "example.com/terms", "not accepted")
        .with_bad_request_violation("name", "must not be empty")
        .with_bad_request_violation("age", "must be positive")
        .with_request_info("req-7", "opaque")
        .with_resource_info("table", "users", "team:core", "read-only")
        .with_help_link("docs", "https://example.com/help")
        .with_localized_message("fr-FR", "requête invalide ☺")
        .with_any(Any {
            type_url: "type.googleapis.com/google.protobuf.StringValue".into(),
            value: "extra".to_string().encode_to_vec(),
        });
    let quota = &mut d.quota_failure.as_mut().unwrap().violations[0];
    quota.api_service = "example.com".into();
    quota.quota_metric = "example.com/requests".into();
    quota.quota_id = "RequestsPerDay".into();
    quota.quota_dimensions.insert("region".into(), "eu".into());
    quota.quota_value = 100;
    quota.future_quota_value = Some(200);
    d.bad_request.as_mut().unwrap().field_violations[0] = FieldViolation {
        field: "name".into(),
        description: "must not be empty".into(),
        reason: "EMPTY".into(),
        localized_message: Some(LocalizedMessage {
            locale: "de-DE".into(),
            message: "darf nicht leer sein".into(),
        }),
    };
    d
}

/// `rich_details()` as grpcio prints it (protobuf's JSON mapping: int64 as
/// strings, durations as "3.250s").
fn rich_details_json() -> serde_json::Value {
    json!([
        {"type": "google.rpc.RetryInfo", "value": {"retry_delay": "3.250s"}},
        {"type": "google.rpc.DebugInfo", "value": {"stack_entries": ["at a()", "at b()"], "detail": "boom"}},
        {"type": "google.rpc.QuotaFailure", "value": {"violations": [{
            "subject": "user:42",
            "description": "daily limit",
            "api_service": "example.com",
            "quota_metric": "example.com/requests",
            "quota_id": "RequestsPerDay",
            "quota_dimensions": {"region": "eu"},
            "quota_value": "100",
            "future_quota_value": "200",
        }]}},
        {"type": "google.rpc.ErrorInfo", "value": {
            "reason": "QUOTA_EXCEEDED",
            "domain": "example.com",
            "metadata": {"limit": "100", "unit": "requests/day"},
        }},
        {"type": "google.rpc.PreconditionFailure", "value": {"violations": [
            {"type": "TOS", "subject": "example.com/terms", "description": "not accepted"},
        ]}},
        {"type": "google.rpc.BadRequest", "value": {"field_violations": [
            {
                "field": "name",
                "description": "must not be empty",
                "reason": "EMPTY",
                "localized_message": {"locale": "de-DE", "message": "darf nicht leer sein"},
            },
            {"field": "age", "description": "must be positive"},
        ]}},
        {"type": "google.rpc.RequestInfo", "value": {"request_id": "req-7", "serving_data": "opaque"}},
        {"type": "google.rpc.ResourceInfo", "value": {
            "resource_type": "table",
            "resource_name": "users",
            "owner": "team:core",
            "description": "read-only",
        }},
        {"type": "google.rpc.Help", "value": {"links": [{"description": "docs", "url": "https://example.com/help"}]}},
        {"type": "google.rpc.LocalizedMessage", "value": {"locale": "fr-FR", "message": "requête invalide ☺"}},
        {"type": "google.protobuf.StringValue", "value": "extra"},
    ])
}

#[test]
fn weir_client_reads_grpcio_rich_status() {
    let peer = PythonServer::start(&peer_script());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let status = rt.block_on(async {
        let ch = Endpoint::new(format!("http://127.0.0.1:{}", peer.port)).unwrap().connect().await.unwrap();
        ch.unary(METHOD, Request::new(Bytes::new())).await.expect_err("grpcio aborts the call")
    });
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), MESSAGE);
    assert!(!status.details().is_empty(), "grpc-status-details-bin received");

    // The google.rpc.Status envelope grpcio wrote, then every detail, typed.
    let rpc = status.check_rpc_status().unwrap();
    assert_eq!((rpc.code, rpc.message.as_str()), (Code::InvalidArgument as i32, MESSAGE));
    let expected = rich_details();
    assert_eq!(status.check_error_details().unwrap(), expected);
    assert_eq!(status.get_details_bad_request(), expected.bad_request);
    assert_eq!(status.get_details_retry_info(), expected.retry_info);
    assert_eq!(status.get_details_error_info(), expected.error_info);
    assert_eq!(status.get_details_quota_failure(), expected.quota_failure);
    assert_eq!(status.get_details_localized_message(), expected.localized_message);
    let details = status.get_error_details();
    assert_eq!(details.retry_delay(), Some(Duration::from_millis(3250)));
    assert_eq!(details.bad_request.unwrap().field_violations.len(), 2);
    assert_eq!(String::decode(&details.other[0].value[..]).unwrap(), "extra");
    drop(rt);
}

#[test]
fn grpcio_client_reads_weir_rich_status() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let port = rt.block_on(async {
        let server = Server::builder().route(
            METHOD,
            Method::unary(|_req: Request<Bytes>| async move {
                Err(Status::with_error_details(Code::InvalidArgument, MESSAGE, rich_details()))
            }),
        );
        let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = bound.local_addr().unwrap().port();
        tokio::spawn(bound.serve());
        port
    });
    let mut child = Command::new(python())
        .arg(peer_script())
        .arg("client")
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the grpcio client did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "grpcio client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(got["call_code"], "INVALID_ARGUMENT");
    assert_eq!(got["call_message"], MESSAGE);
    assert_eq!(got["code"], Code::InvalidArgument as i32);
    assert_eq!(got["message"], MESSAGE);
    assert_eq!(got["details"], rich_details_json());
    drop(rt);
}
