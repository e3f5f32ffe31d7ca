//! `route_guide_client [URL]`: exercises all four RPC kinds of a RouteGuide.

use futures::StreamExt;
use weir_examples::routeguide::route_guide_client::RouteGuideClient;
use weir_examples::routeguide::{Point, Rectangle, RouteNote};
use weir_tokio::Endpoint;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:10000".into());
    let guide = RouteGuideClient::new(Endpoint::new(url)?.connect().await?);
    let f = guide.get_feature(Point { latitude: 0, longitude: 0 }).await?.into_inner();
    println!("feature at origin: {:?}", f.name);
    let all = Rectangle {
        lo: Some(Point::default()),
        hi: Some(Point { latitude: 90_000_000, longitude: 90_000_000 }),
    };
    let n = guide.list_features(all).await?.into_inner().count().await;
    println!("features in the world: {n}");
    let route =
        futures::stream::iter((0..10).map(|i| Point { latitude: i * 10_000_000, longitude: i * 10_000_000 }));
    let s = guide.record_route(route).await?.into_inner();
    println!("route: {} points, {} features, {} m", s.point_count, s.feature_count, s.distance);
    let notes = futures::stream::iter(
        (0..3).map(|i| RouteNote { location: Some(Point::default()), message: format!("note {i}") }),
    );
    let mut earlier = guide.route_chat(notes).await?.into_inner();
    while let Some(n) = earlier.message().await? {
        println!("earlier note at origin: {}", n.message);
    }
    Ok(())
}
