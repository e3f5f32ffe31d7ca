//! Server reflection over loopback, v1 and v1alpha, on tokio and smol: list
//! services, file containing a symbol (service, method, message, enum
//! value), file by name, and NOT_FOUND answers that leave the stream usable.

use std::time::Duration;

use futures::stream;
use prost::Message;
use prost_types::FileDescriptorProto;
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;
use weir_rt::runtime::Net;
use weir_rt::{Endpoint, Server};
use weir_services::pb::reflection_v1 as v1;
use weir_services::pb::reflection_v1alpha as v1alpha;
use weir_services::reflection::ReflectionBuilder;

/// A server with health, reflection v1 and v1alpha; its address.
async fn serve<R: Net>(rt: R) -> std::net::SocketAddr {
    let (_reporter, health) = weir_services::health::HealthReporter::new();
    let builder = ReflectionBuilder::new();
    let server = Server::new(rt.clone())
        .add_service(health)
        .add_service(builder.build_v1().unwrap())
        .add_service(builder.build_v1alpha().unwrap());
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr().unwrap();
    rt.spawn(async move {
        let _ = bound.serve().await;
    });
    addr
}

fn request(r: MessageRequest) -> v1::ServerReflectionRequest {
    v1::ServerReflectionRequest { host: String::new(), message_request: Some(r) }
}

/// The requests every version is asked, in order.
fn requests() -> Vec<v1::ServerReflectionRequest> {
    vec![
        request(MessageRequest::ListServices(String::new())),
        request(MessageRequest::FileContainingSymbol("grpc.health.v1.Health.Check".into())),
        request(MessageRequest::FileContainingSymbol("no.Such.Symbol".into())),
        request(MessageRequest::FileByFilename("grpc/reflection/v1alpha/reflection.proto".into())),
        request(MessageRequest::FileContainingSymbol("grpc.health.v1.HealthCheckResponse.SERVING".into())),
        request(MessageRequest::FileByFilename("missing.proto".into())),
    ]
}

fn file_names(r: &MessageResponse) -> Vec<(String, String)> {
    let MessageResponse::FileDescriptorResponse(files) = r else { panic!("a file response: {r:?}") };
    files
        .file_descriptor_proto
        .iter()
        .map(|b| {
            let f = FileDescriptorProto::decode(&b[..]).expect("a FileDescriptorProto");
            (f.name().to_owned(), f.package().to_owned())
        })
        .collect()
}

/// Checks the answers to [`requests`], in order.
fn check(answers: &[v1::ServerReflectionResponse]) {
    assert_eq!(answers.len(), 6, "one response per request");
    let r: Vec<&MessageResponse> = answers.iter().map(|a| a.message_response.as_ref().unwrap()).collect();
    let MessageResponse::ListServicesResponse(list) = r[0] else { panic!("{:?}", r[0]) };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "grpc.channelz.v1.Channelz",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"
        ]
    );
    assert_eq!(file_names(r[1]), [("grpc/health/v1/health.proto".into(), "grpc.health.v1".into())]);
    let MessageResponse::ErrorResponse(e) = r[2] else { panic!("{:?}", r[2]) };
    assert_eq!(e.error_code, weir_rt::Code::NotFound as i32, "{e:?}");
    assert_eq!(
        file_names(r[3]),
        [("grpc/reflection/v1alpha/reflection.proto".into(), "grpc.reflection.v1alpha".into())]
    );
    assert_eq!(file_names(r[4])[0].0, "grpc/health/v1/health.proto", "enum values are symbols too");
    assert!(
        matches!(r[5], MessageResponse::ErrorResponse(e) if e.error_code == weir_rt::Code::NotFound as i32)
    );
    assert_eq!(answers[1].original_request.as_ref(), Some(&requests()[1]), "the request is echoed");
}

async fn reflection_v1_and_v1alpha<R: Net + Default>(rt: R) {
    let addr = serve(rt).await;
    let ch = Endpoint::<R>::new(format!("http://{addr}")).unwrap().connect().await.unwrap();

    let client = v1::server_reflection_client::ServerReflectionClient::new(ch.clone());
    let mut replies = client.server_reflection_info(stream::iter(requests())).await.unwrap().into_inner();
    let mut answers = Vec::new();
    while let Some(a) = replies.message().await.unwrap() {
        answers.push(a);
    }
    check(&answers);

    // v1alpha: the same protocol under another package.
    let alpha_requests: Vec<v1alpha::ServerReflectionRequest> = requests()
        .iter()
        .map(|r| v1alpha::ServerReflectionRequest::decode(&r.encode_to_vec()[..]).unwrap())
        .collect();
    let client = v1alpha::server_reflection_client::ServerReflectionClient::new(ch);
    let mut replies = client.server_reflection_info(stream::iter(alpha_requests)).await.unwrap().into_inner();
    let mut answers = Vec::new();
    while let Some(a) = replies.message().await.unwrap() {
        answers.push(v1::ServerReflectionResponse::decode(&a.encode_to_vec()[..]).unwrap());
    }
    check(&answers);
}

#[test]
fn reflection_on_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), reflection_v1_and_v1alpha(weir_tokio::Tokio)).await
    })
    .expect("test timed out");
}

#[test]
fn reflection_on_smol() {
    smol::block_on(async {
        let timeout = async {
            smol::Timer::after(Duration::from_secs(30)).await;
            panic!("test timed out");
        };
        smol::future::race(reflection_v1_and_v1alpha(weir_smol::Smol::default()), timeout).await
    });
}
