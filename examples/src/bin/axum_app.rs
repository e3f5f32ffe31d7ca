//! The README's axum example, verbatim (a test keeps the two the same): a
//! Weir Greeter and REST routes on one port, served by axum.

mod helloworld {
    weir_rt::include_proto!("helloworld");
}
use axum::{Router, extract::Path, routing::get};
use futures::stream::{BoxStream, StreamExt};
use helloworld::greeter_client::GreeterClient;
use helloworld::greeter_server::{Greeter, GreeterServer};
use helloworld::{HelloReply, HelloRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_tokio::{Endpoint, Request, Response, Server, Status, Streaming};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply { message: format!("Hello {}", req.into_inner().name) }))
    }

    type SayHelloStreamReplyStream = BoxStream<'static, Result<HelloReply, Status>>;
    async fn say_hello_stream_reply(
        &self,
        _: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHelloStreamReplyStream>, Status> {
        Err(Status::unimplemented("not in this example"))
    }

    type SayHelloBidiStreamStream = BoxStream<'static, Result<HelloReply, Status>>;
    async fn say_hello_bidi_stream(
        &self,
        req: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::SayHelloBidiStreamStream>, Status> {
        let replies = req.into_inner().map(|r| r.map(|r| HelloReply { message: format!("Hi {}", r.name) }));
        Ok(Response::new(replies.boxed()))
    }
}

async fn greeting(Path(name): Path<String>) -> String {
    format!("Hello {name}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The Weir server's services (routes, interceptors, limits) as a tower service...
    let grpc = Server::builder().add_service(GreeterServer::new(MyGreeter)).into_service();
    // ...behind axum's REST routes: what no route matches goes to gRPC.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/greeting/{name}", get(greeting))
        .fallback_service(grpc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving REST and gRPC on {addr}");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A gRPC call on the port (HTTP/2)...
    let client = GreeterClient::new(Endpoint::new(format!("http://{addr}"))?.connect().await?);
    let reply = client.say_hello(HelloRequest { name: "gRPC".into() }).await?;
    println!("gRPC: {}", reply.into_inner().message);

    // ...and a REST request on the same port (HTTP/1.1).
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(b"GET /api/greeting/REST HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
    let mut response = String::new();
    conn.read_to_string(&mut response).await?;
    println!("REST: {}", response.split("\r\n\r\n").nth(1).unwrap_or_default());
    Ok(())
}
