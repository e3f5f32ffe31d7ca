//! The Greeter service: "Hello " + name, in three flavours.

use futures::stream::{self, BoxStream, StreamExt};
use weir_rt::{Request, Response, Status, Streaming};

use crate::helloworld::greeter_server::Greeter;
use crate::helloworld::{HelloReply, HelloRequest};

/// Greets in English, or in several languages when streaming.
#[derive(Debug, Default)]
pub struct MyGreeter;

const GREETINGS: [&str; 4] = ["Hello", "Bonjour", "Hola", "Hallo"];

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}") }))
    }

    type SayHelloStreamReplyStream = BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_stream_reply(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHelloStreamReplyStream>, Status> {
        let name = request.into_inner().name;
        let replies = GREETINGS.map(|g| Ok(HelloReply { message: format!("{g} {name}") }));
        Ok(Response::new(stream::iter(replies).boxed()))
    }

    type SayHelloBidiStreamStream = BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_bidi_stream(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::SayHelloBidiStreamStream>, Status> {
        let replies =
            request.into_inner().map(|r| r.map(|req| HelloReply { message: format!("Hello {}", req.name) }));
        Ok(Response::new(replies.boxed()))
    }
}
