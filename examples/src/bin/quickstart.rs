//! The README's quick start, verbatim (a test keeps the two the same): a
//! Greeter server and its client in one process.

mod helloworld {
    weir_rt::include_proto!("helloworld"); // what build.rs generated
}
use futures::stream::{self, BoxStream, StreamExt};
use helloworld::greeter_client::GreeterClient;
use helloworld::greeter_server::{Greeter, GreeterServer};
use helloworld::{HelloReply, HelloRequest};
use weir_tokio::{Code, Endpoint, Request, Response, Server, Status, Streaming};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = req.into_inner().name;
        if name.is_empty() {
            return Err(Status::invalid_argument("say who to greet"));
        }
        Ok(Response::new(HelloReply { message: format!("Hello {name}") }))
    }

    // A server-streaming method returns a stream of your choosing: name its type.
    type SayHelloStreamReplyStream = BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_stream_reply(
        &self,
        req: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHelloStreamReplyStream>, Status> {
        let name = req.into_inner().name;
        let replies = ["Hello", "Bonjour"].map(|g| Ok(HelloReply { message: format!("{g} {name}") }));
        Ok(Response::new(stream::iter(replies).boxed()))
    }

    type SayHelloBidiStreamStream = BoxStream<'static, Result<HelloReply, Status>>;

    // A client-streaming or bidi method receives a `Streaming<Request>`.
    async fn say_hello_bidi_stream(
        &self,
        req: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::SayHelloBidiStreamStream>, Status> {
        let replies =
            req.into_inner().map(|r| r.map(|r| HelloReply { message: format!("Hello {}", r.name) }));
        Ok(Response::new(replies.boxed()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Bind first: a port in use fails here, and port 0 picks a free one.
    let server = Server::builder().add_service(GreeterServer::new(MyGreeter));
    let bound = server.bind("127.0.0.1:0".parse()?).await?;
    let addr = bound.local_addr().expect("a TCP address");
    // Serve in the background until SIGTERM or Ctrl-C (then calls in flight finish).
    tokio::spawn(bound.serve_with_shutdown(weir_tokio::shutdown_signal()));

    let client = GreeterClient::new(Endpoint::new(format!("http://{addr}"))?.connect().await?);
    let reply = client.say_hello(HelloRequest { name: "world".into() }).await?;
    println!("{}", reply.into_inner().message);

    // Server streaming: the client reads a `Streaming<HelloReply>`.
    let mut replies =
        client.say_hello_stream_reply(HelloRequest { name: "world".into() }).await?.into_inner();
    while let Some(reply) = replies.message().await? {
        println!("{}", reply.message);
    }

    // Errors are `Status` values: a code, a message, optional details.
    let err = client.say_hello(HelloRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    println!("{}: {}", err.code(), err.message());
    Ok(())
}
