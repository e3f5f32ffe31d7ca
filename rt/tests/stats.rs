//! The stats hook on both runtimes: a [`CallCounters`] on the server and one
//! on the channel see the right calls, codes, message and byte counts.

mod suite;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use weir_rt::runtime::Net;
use weir_rt::{CallCounters, Code, Endpoint, Request};

fn count_size(count: u32, size: u32) -> Bytes {
    let mut v = count.to_be_bytes().to_vec();
    v.extend_from_slice(&size.to_be_bytes());
    v.into()
}

/// (messages, bytes) of requests and responses, and the codes seen.
fn totals(c: &CallCounters, method: &str) -> ((u64, u64), (u64, u64), u64, u64) {
    let t = c.method(method);
    (
        (t.request_messages, t.request_bytes),
        (t.response_messages, t.response_bytes),
        t.started,
        t.ended_with(Code::Ok),
    )
}

async fn stats_hook_counts_calls<R: Net + Default>(rt: R) {
    let server_stats = Arc::new(CallCounters::new());
    // A second handler hears everything the first does.
    let server_second = Arc::new(CallCounters::new());
    let server = suite::test_server(rt.clone(), Default::default())
        .stats_handler(server_stats.clone())
        .stats_handler(server_second.clone());
    let server = suite::start(&rt, server).await;
    let client_stats = Arc::new(CallCounters::new());
    let client_second = Arc::new(CallCounters::new());
    let ch = Endpoint::<R>::new(server.url())
        .unwrap()
        .stats_handler(client_stats.clone())
        .stats_handler(client_second.clone())
        .connect()
        .await
        .unwrap();

    ch.unary("/test.Test/Unary", Request::new(Bytes::from_static(b"hello"))).await.unwrap();
    let resp = ch.server_streaming("/test.Test/ServerStream", Request::new(count_size(3, 100))).await;
    let mut s = resp.unwrap().into_inner();
    while s.message().await.unwrap().is_some() {}
    let upload = futures::stream::iter((0..4).map(|_| Bytes::from(vec![1u8; 1000])));
    ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
    let mut replies = ch.streaming("/test.Test/Bidi", Request::new(rx)).await.unwrap().into_inner();
    for i in 0..2u8 {
        tx.unbounded_send(Bytes::from(vec![i; 10])).unwrap();
        replies.next().await.unwrap().unwrap();
    }
    drop(tx);
    assert!(replies.message().await.unwrap().is_none());
    let bad = ch.server_streaming("/test.Test/ServerStream", Request::new(Bytes::from_static(b"x"))).await;
    let code = match bad {
        Err(status) => status.code,
        Ok(r) => r.into_inner().message().await.unwrap_err().code,
    };
    assert_eq!(code, Code::InvalidArgument);
    let err = ch.unary("/test.Test/Nope", Request::new(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unimplemented);

    for (side, c) in [("client", &client_stats), ("server", &server_stats)] {
        assert_eq!(totals(c, "/test.Test/Unary"), ((1, 5), (1, 5), 1, 1), "{side} unary");
        let ss = c.method("/test.Test/ServerStream");
        assert_eq!((ss.started, ss.ended_with(Code::Ok), ss.ended_with(Code::InvalidArgument)), (2, 1, 1));
        assert_eq!((ss.request_messages, ss.request_bytes), (2, 9), "{side} server-streaming requests");
        assert_eq!((ss.response_messages, ss.response_bytes), (3, 300), "{side} server-streaming responses");
        assert_eq!(
            totals(c, "/test.Test/ClientStream"),
            ((4, 4000), (1, 8), 1, 1),
            "{side} client streaming"
        );
        assert_eq!(totals(c, "/test.Test/Bidi"), ((2, 20), (2, 20), 1, 1), "{side} bidi");
        // A server reports methods it does not serve under one name (gRFC
        // A66's "other"), so clients cannot grow its label set; a client
        // knows what it called.
        let name = if side == "server" { weir_rt::stats::UNREGISTERED_METHOD } else { "/test.Test/Nope" };
        let nope = c.method(name);
        assert_eq!((nope.started, nope.ended_with(Code::Unimplemented)), (1, 1), "{side} unimplemented");
    }
    assert_eq!(server_stats.method("/test.Test/Nope").started, 0, "no entry per unknown path");
    for method in ["/test.Test/Unary", "/test.Test/ServerStream", "/test.Test/Bidi"] {
        assert_eq!(server_second.method(method), server_stats.method(method), "second server handler");
        assert_eq!(client_second.method(method), client_stats.method(method), "second client handler");
    }
    assert_eq!(client_stats.connections_opened(), 1);
    assert_eq!(server_stats.connections_opened(), 1);
    drop(ch);
    server.stop().await;
    assert_eq!(server_stats.connections_closed(), 1, "closed once the server stopped");
}

#[test]
fn stats_hook_on_tokio() {
    suite::runners::run_on_tokio(stats_hook_counts_calls);
}

#[test]
fn stats_hook_on_smol() {
    suite::runners::run_on_smol(stats_hook_counts_calls);
}
