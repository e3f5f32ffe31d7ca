//! The README demo: starts a Weir server on a loopback port and calls it with
//! a Weir client — every kind of RPC — printing what happens.

use std::time::Duration;

use futures::StreamExt;
use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::HelloRequest;
use weir_examples::helloworld::greeter_client::GreeterClient;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_examples::route_guide::RouteGuideService;
use weir_examples::routeguide::route_guide_client::RouteGuideClient;
use weir_examples::routeguide::route_guide_server::RouteGuideServer;
use weir_examples::routeguide::{Point, Rectangle, RouteNote};
use weir_tokio::{Endpoint, Request, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bound = Server::builder()
        .add_service(GreeterServer::new(MyGreeter))
        .add_service(RouteGuideServer::new(RouteGuideService::default()))
        .bind("127.0.0.1:0".parse()?)
        .await?;
    let addr = bound.local_addr().expect("tcp");
    println!("server listening on {addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve_with_shutdown(async {
        let _ = stopped.await;
    }));

    let channel = Endpoint::new(format!("http://{addr}"))?.connect().await?;

    // Unary, with a deadline.
    let greeter = GreeterClient::new(channel.clone());
    let mut req = Request::new(HelloRequest { name: "Weir".into() });
    req.set_timeout(Duration::from_secs(5));
    let reply = greeter.say_hello(req).await?;
    println!("SayHello -> {:?}", reply.into_inner().message);

    // Server streaming.
    let mut replies =
        greeter.say_hello_stream_reply(HelloRequest { name: "world".into() }).await?.into_inner();
    while let Some(r) = replies.message().await? {
        println!("SayHelloStreamReply -> {:?}", r.message);
    }

    // All four kinds on the route guide.
    let guide = RouteGuideClient::new(channel.clone());
    let f = guide.get_feature(Point { latitude: 30_000_000, longitude: 0 }).await?.into_inner();
    println!("GetFeature -> {:?}", f.name);
    let rect = Rectangle {
        lo: Some(Point { latitude: 0, longitude: 0 }),
        hi: Some(Point { latitude: 20_000_000, longitude: 20_000_000 }),
    };
    let features: Vec<_> = guide.list_features(rect).await?.into_inner().collect().await;
    println!("ListFeatures -> {} features", features.len());
    let route = futures::stream::iter((0..5).map(|i| Point { latitude: i * 10_000_000, longitude: 0 }));
    let summary = guide.record_route(route).await?.into_inner();
    println!(
        "RecordRoute -> {} points, {} features, {} m",
        summary.point_count, summary.feature_count, summary.distance
    );
    let here = Some(Point { latitude: 1, longitude: 1 });
    let notes = futures::stream::iter(
        ["first", "second", "third"].map(|m| RouteNote { location: here, message: m.into() }),
    );
    let mut echoes = guide.route_chat(notes).await?.into_inner();
    while let Some(n) = echoes.message().await? {
        println!("RouteChat -> earlier note {:?}", n.message);
    }

    let _ = stop.send(());
    server.await??;
    println!("server stopped gracefully; demo OK");
    Ok(())
}
