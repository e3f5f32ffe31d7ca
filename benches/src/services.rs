//! Identical service logic for both stacks.

use futures::stream::{self, BoxStream, StreamExt};

use crate::tonic_gen;
use crate::weir_gen;

/// Weir's Greeter: "Hello " + name.
#[derive(Debug, Default)]
pub struct WeirGreeter;

impl weir_gen::helloworld::greeter_server::Greeter for WeirGreeter {
    async fn say_hello(
        &self,
        request: weir_rt::Request<weir_gen::helloworld::HelloRequest>,
    ) -> Result<weir_rt::Response<weir_gen::helloworld::HelloReply>, weir_rt::Status> {
        let name = request.into_inner().name;
        Ok(weir_rt::Response::new(weir_gen::helloworld::HelloReply { message: format!("Hello {name}") }))
    }

    type SayHelloStreamReplyStream =
        BoxStream<'static, Result<weir_gen::helloworld::HelloReply, weir_rt::Status>>;

    async fn say_hello_stream_reply(
        &self,
        _request: weir_rt::Request<weir_gen::helloworld::HelloRequest>,
    ) -> Result<weir_rt::Response<Self::SayHelloStreamReplyStream>, weir_rt::Status> {
        Err(weir_rt::Status::new(weir_rt::Code::Unimplemented, "not benchmarked"))
    }

    type SayHelloBidiStreamStream =
        BoxStream<'static, Result<weir_gen::helloworld::HelloReply, weir_rt::Status>>;

    async fn say_hello_bidi_stream(
        &self,
        _request: weir_rt::Request<weir_rt::Streaming<weir_gen::helloworld::HelloRequest>>,
    ) -> Result<weir_rt::Response<Self::SayHelloBidiStreamStream>, weir_rt::Status> {
        Err(weir_rt::Status::new(weir_rt::Code::Unimplemented, "not benchmarked"))
    }
}

/// Weir's Bench service.
#[derive(Debug, Default)]
pub struct WeirBench;

impl weir_gen::bench::bench_server::Bench for WeirBench {
    type DownloadStream = BoxStream<'static, Result<weir_gen::bench::Chunk, weir_rt::Status>>;

    async fn download(
        &self,
        request: weir_rt::Request<weir_gen::bench::DownloadRequest>,
    ) -> Result<weir_rt::Response<Self::DownloadStream>, weir_rt::Status> {
        let r = request.into_inner();
        let chunk = weir_gen::bench::Chunk { data: bytes::Bytes::from(vec![7u8; r.size as usize]) };
        Ok(weir_rt::Response::new(stream::iter((0..r.count).map(move |_| Ok(chunk.clone()))).boxed()))
    }

    type HoldStream = BoxStream<'static, Result<weir_gen::bench::Chunk, weir_rt::Status>>;

    async fn hold(
        &self,
        request: weir_rt::Request<weir_rt::Streaming<weir_gen::bench::Chunk>>,
    ) -> Result<weir_rt::Response<Self::HoldStream>, weir_rt::Status> {
        let s = request.into_inner();
        Ok(weir_rt::Response::new(s.boxed()))
    }

    async fn upload(
        &self,
        request: weir_rt::Request<weir_rt::Streaming<weir_gen::bench::Chunk>>,
    ) -> Result<weir_rt::Response<weir_gen::bench::UploadSummary>, weir_rt::Status> {
        let mut s = request.into_inner();
        let mut summary = weir_gen::bench::UploadSummary::default();
        while let Some(c) = s.message().await? {
            summary.bytes += c.data.len() as u64;
            summary.chunks += 1;
        }
        Ok(weir_rt::Response::new(summary))
    }
}

/// tonic's Greeter.
#[derive(Debug, Default)]
pub struct TonicGreeter;

#[tonic::async_trait]
impl tonic_gen::helloworld::greeter_server::Greeter for TonicGreeter {
    async fn say_hello(
        &self,
        request: tonic::Request<tonic_gen::helloworld::HelloRequest>,
    ) -> Result<tonic::Response<tonic_gen::helloworld::HelloReply>, tonic::Status> {
        let name = request.into_inner().name;
        Ok(tonic::Response::new(tonic_gen::helloworld::HelloReply { message: format!("Hello {name}") }))
    }

    type SayHelloStreamReplyStream =
        BoxStream<'static, Result<tonic_gen::helloworld::HelloReply, tonic::Status>>;

    async fn say_hello_stream_reply(
        &self,
        _request: tonic::Request<tonic_gen::helloworld::HelloRequest>,
    ) -> Result<tonic::Response<Self::SayHelloStreamReplyStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not benchmarked"))
    }

    type SayHelloBidiStreamStream =
        BoxStream<'static, Result<tonic_gen::helloworld::HelloReply, tonic::Status>>;

    async fn say_hello_bidi_stream(
        &self,
        _request: tonic::Request<tonic::Streaming<tonic_gen::helloworld::HelloRequest>>,
    ) -> Result<tonic::Response<Self::SayHelloBidiStreamStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not benchmarked"))
    }
}

/// tonic's Bench service.
#[derive(Debug, Default)]
pub struct TonicBench;

#[tonic::async_trait]
impl tonic_gen::bench::bench_server::Bench for TonicBench {
    type DownloadStream = BoxStream<'static, Result<tonic_gen::bench::Chunk, tonic::Status>>;

    async fn download(
        &self,
        request: tonic::Request<tonic_gen::bench::DownloadRequest>,
    ) -> Result<tonic::Response<Self::DownloadStream>, tonic::Status> {
        let r = request.into_inner();
        let chunk = tonic_gen::bench::Chunk { data: bytes::Bytes::from(vec![7u8; r.size as usize]) };
        Ok(tonic::Response::new(stream::iter((0..r.count).map(move |_| Ok(chunk.clone()))).boxed()))
    }

    type HoldStream = BoxStream<'static, Result<tonic_gen::bench::Chunk, tonic::Status>>;

    async fn hold(
        &self,
        request: tonic::Request<tonic::Streaming<tonic_gen::bench::Chunk>>,
    ) -> Result<tonic::Response<Self::HoldStream>, tonic::Status> {
        Ok(tonic::Response::new(request.into_inner().boxed()))
    }

    async fn upload(
        &self,
        request: tonic::Request<tonic::Streaming<tonic_gen::bench::Chunk>>,
    ) -> Result<tonic::Response<tonic_gen::bench::UploadSummary>, tonic::Status> {
        let mut s = request.into_inner();
        let mut summary = tonic_gen::bench::UploadSummary::default();
        while let Some(c) = s.message().await? {
            summary.bytes += c.data.len() as u64;
            summary.chunks += 1;
        }
        Ok(tonic::Response::new(summary))
    }
}

/// A Weir server (any runtime) with both bench services, as every bench
/// binary configures it.
pub fn weir_server<R: weir_rt::runtime::Net>(server: weir_rt::Server<R>) -> weir_rt::Server<R> {
    server
        .add_service(weir_gen::helloworld::greeter_server::GreeterServer::new(WeirGreeter))
        .add_service(weir_gen::bench::bench_server::BenchServer::new(WeirBench))
        .max_concurrent_streams(10_000)
}

/// tonic serving both bench services on `addr` until the future is dropped.
pub async fn tonic_serve(addr: std::net::SocketAddr) -> Result<(), tonic::transport::Error> {
    tonic_router().serve(addr).await
}

/// [`tonic_serve`] with `SO_SNDBUF` set to `send_buffer` on every accepted
/// connection (tonic itself leaves the kernel's autotuning): Weir's loopback
/// send buffer, given to tonic as well.
pub async fn tonic_serve_with_send_buffer(
    addr: std::net::SocketAddr,
    send_buffer: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let incoming = futures::stream::unfold(listener, move |listener| async move {
        let accepted = listener.accept().await.and_then(|(stream, _)| {
            stream.set_nodelay(true)?;
            socket2::SockRef::from(&stream).set_send_buffer_size(send_buffer)?;
            Ok(stream)
        });
        Some((accepted, listener))
    });
    Ok(tonic_router().serve_with_incoming(incoming).await?)
}

/// tonic serving both bench services on `addr` to gRPC-Web clients over
/// HTTP/1.1 (and gRPC over HTTP/2) until the future is dropped: tonic-web's
/// `GrpcWebLayer` with `accept_http1(true)`, as tonic-web's docs set it up.
/// tonic-web has no CORS of its own (a separate CORS layer would add it);
/// the bench's requests carry no `Origin`, so none is needed.
pub async fn tonic_serve_grpc_web(addr: std::net::SocketAddr) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(10_000)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(tonic_gen::helloworld::greeter_server::GreeterServer::new(TonicGreeter))
        .add_service(tonic_gen::bench::bench_server::BenchServer::new(TonicBench))
        .serve(addr)
        .await
}

fn tonic_router() -> tonic::transport::server::Router {
    tonic::transport::Server::builder()
        .max_concurrent_streams(10_000)
        .add_service(tonic_gen::helloworld::greeter_server::GreeterServer::new(TonicGreeter))
        .add_service(tonic_gen::bench::bench_server::BenchServer::new(TonicBench))
}
