//! Code generation end to end: a proto with nested messages, enums, a oneof,
//! maps, an import from another package and the well-known types Timestamp
//! and Empty, with all four RPC kinds — every method called over loopback.

use std::collections::HashMap;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use weir_examples::kitchen::common::{Money, Status as OrderStatus};
use weir_examples::kitchen::sink::order::{Delivery, Line, Priority};
use weir_examples::kitchen::sink::sink_client::SinkClient;
use weir_examples::kitchen::sink::sink_server::{Sink, SinkServer};
use weir_examples::kitchen::sink::{Order, Receipt};
use weir_tokio::{Code, Endpoint, Request, Response, Server, Status, Streaming};

struct Shop;

fn receipt(o: &Order) -> Result<Receipt, Status> {
    if o.priority() == Priority::Unspecified {
        return Err(Status::new(Code::InvalidArgument, "priority required"));
    }
    let units = o.lines.iter().map(|l| l.price.as_ref().map_or(0, |p| p.units) * l.quantity as i64).sum();
    let total = Money {
        currency: o.lines.first().and_then(|l| l.price.clone()).map(|p| p.currency).unwrap_or_default(),
        units,
    };
    Ok(Receipt { order_id: o.id.clone(), total: Some(total), line_count: o.lines.len() as u32 })
}

impl Sink for Shop {
    async fn put(&self, request: Request<Order>) -> Result<Response<Receipt>, Status> {
        let order = request.into_inner();
        // Everything arrived intact: the oneof, both maps, the timestamp, the imported enum.
        assert_eq!(order.delivery, Some(Delivery::PickupStore("north".into())));
        assert_eq!(order.labels.get("gift").map(String::as_str), Some("yes"));
        assert_eq!(order.by_position.get(&7).map(|l| l.sku.as_str()), Some("pos-7"));
        assert_eq!(order.placed_at.as_ref().map(|t| t.seconds), Some(1_700_000_000));
        assert_eq!(order.status(), OrderStatus::Open);
        Ok(Response::new(receipt(&order)?))
    }

    type WatchStream = BoxStream<'static, Result<Receipt, Status>>;

    async fn watch(&self, _request: Request<()>) -> Result<Response<Self::WatchStream>, Status> {
        let receipts = (0..3).map(|i| Ok(Receipt { order_id: format!("w{i}"), total: None, line_count: i }));
        Ok(Response::new(stream::iter(receipts).boxed()))
    }

    async fn batch(&self, request: Request<Streaming<Order>>) -> Result<Response<Receipt>, Status> {
        let mut orders = request.into_inner();
        let mut lines = 0;
        let mut units = 0;
        while let Some(o) = orders.message().await? {
            let r = receipt(&o)?;
            lines += r.line_count;
            units += r.total.map_or(0, |t| t.units);
        }
        Ok(Response::new(Receipt {
            order_id: "batch".into(),
            total: Some(Money { currency: "EUR".into(), units }),
            line_count: lines,
        }))
    }

    type SyncStream = BoxStream<'static, Result<Receipt, Status>>;

    async fn sync(&self, request: Request<Streaming<Order>>) -> Result<Response<Self::SyncStream>, Status> {
        Ok(Response::new(request.into_inner().map(|o| o.and_then(|o| receipt(&o))).boxed()))
    }
}

fn order(id: &str, qty: u32) -> Order {
    let line = Line {
        sku: format!("sku-{id}"),
        quantity: qty,
        price: Some(Money { currency: "EUR".into(), units: 250 }),
    };
    let mut by_position = HashMap::new();
    by_position.insert(7, Line { sku: "pos-7".into(), quantity: 1, price: None });
    Order {
        id: id.into(),
        lines: vec![line],
        priority: Priority::High as i32,
        delivery: Some(Delivery::PickupStore("north".into())),
        labels: [("gift".to_owned(), "yes".to_owned())].into(),
        by_position,
        placed_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
        status: OrderStatus::Open as i32,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_of_the_kitchen_sink() {
    let bound = Server::builder()
        .add_service(SinkServer::new(Shop))
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", bound.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve_with_shutdown(async {
        let _ = stopped.await;
    }));
    let client = SinkClient::new(Endpoint::new(url).unwrap().connect().await.unwrap());

    let r = client.put(order("a", 4)).await.unwrap().into_inner();
    assert_eq!((r.order_id.as_str(), r.total.unwrap().units, r.line_count), ("a", 1000, 1));
    let mut bad = order("b", 1);
    bad.priority = Priority::Unspecified as i32;
    let err = client.put(bad).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (Code::InvalidArgument, "priority required"));

    let watched: Vec<_> =
        client.watch(()).await.unwrap().into_inner().map(|r| r.unwrap().order_id).collect().await;
    assert_eq!(watched, ["w0", "w1", "w2"]);

    let orders = stream::iter((1..=5).map(|i| order(&i.to_string(), i)));
    let r = client.batch(orders).await.unwrap().into_inner();
    assert_eq!((r.line_count, r.total.unwrap().units), (5, 250 * 15));

    let orders = stream::iter(["x", "y", "z"].map(|id| order(id, 2)));
    let ids: Vec<_> =
        client.sync(orders).await.unwrap().into_inner().map(|r| r.unwrap().order_id).collect().await;
    assert_eq!(ids, ["x", "y", "z"]);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn proto_comments_become_doc_comments() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/helloworld.rs"));
    for doc in [
        "/// The greeting service definition.",
        "/// Sends a greeting.",
        "/// The request message containing the user's name.",
    ] {
        assert!(generated.contains(doc), "missing {doc:?}");
    }
    let sink = include_str!(concat!(env!("OUT_DIR"), "/kitchen.sink.rs"));
    assert!(sink.contains("/// Server streaming.") && sink.contains("/// A nested enum."));
}
