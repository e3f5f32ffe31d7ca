//! gRPC client and server cores wired back to back in memory: the four call
//! kinds, many concurrent calls, message sizes around every boundary,
//! trailers-only errors, deadlines, cancellation, metadata and status details.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use weir_core::grpc::{
    BatchCheck, CallId, CallRequest, Client, ClientConfig, ClientEvent, Code, Metadata, RecvMessage, Server,
    ServerConfig, ServerEvent, Status,
};
use weir_core::sim::Pair;

type GrpcPair = Pair<Client, Server>;

fn pair(seed: u64) -> GrpcPair {
    Pair::grpc(ClientConfig::default(), ServerConfig::default(), seed)
}

fn server_events(p: &mut GrpcPair) -> Vec<ServerEvent> {
    std::iter::from_fn(|| p.server.poll_event()).collect()
}

fn client_events(p: &mut GrpcPair) -> Vec<ClientEvent> {
    std::iter::from_fn(|| p.client.poll_event()).collect()
}

fn server_recv_all(p: &mut GrpcPair, call: CallId) -> (Vec<Bytes>, bool) {
    let mut out = Vec::new();
    loop {
        match p.server.recv_message(call).unwrap() {
            RecvMessage::Message(m) => out.push(m),
            RecvMessage::Pending => return (out, false),
            RecvMessage::End => return (out, true),
        }
    }
}

fn client_recv_all(p: &mut GrpcPair, call: CallId) -> (Vec<Bytes>, bool) {
    let mut out = Vec::new();
    loop {
        match p.client.recv_message(call).unwrap() {
            RecvMessage::Message(m) => out.push(m),
            RecvMessage::Pending => return (out, false),
            RecvMessage::End => return (out, true),
        }
    }
}

fn finished(events: &[ClientEvent], call: CallId) -> Option<(Status, Metadata)> {
    events.iter().find_map(|e| match e {
        ClientEvent::Finished { call: c, status, trailers, .. } if *c == call => {
            Some((status.clone(), trailers.clone()))
        }
        _ => None,
    })
}

fn started(events: &[ServerEvent]) -> Vec<CallId> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Call { call, .. } => Some(*call),
            _ => None,
        })
        .collect()
}

fn req(path: &'static str) -> CallRequest {
    CallRequest::new(path, "localhost")
}

#[test]
fn unary_call() {
    let mut p = pair(1);
    let call = p.client.start_call(p.now, req("/helloworld.Greeter/SayHello")).unwrap();
    p.client.send_last_message(call, Bytes::from_static(b"world")).unwrap();
    p.drive();
    let ev = server_events(&mut p);
    let start = ev.iter().find_map(|e| match e {
        ServerEvent::Call { start, .. } => Some(start.clone()),
        _ => None,
    });
    assert_eq!(&start.unwrap().path[..], b"/helloworld.Greeter/SayHello");
    assert_eq!(server_recv_all(&mut p, call), (vec![Bytes::from_static(b"world")], true));
    p.server.send_message(call, Bytes::from_static(b"Hello world")).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    assert!(matches!(ev[0], ClientEvent::Headers { .. }), "{ev:?}");
    assert_eq!(client_recv_all(&mut p, call).0, vec![Bytes::from_static(b"Hello world")]);
    let (status, _) = finished(&ev, call).expect("finished");
    assert_eq!(status.code, Code::Ok);
    assert_eq!(p.client.active_calls(), 0, "record dropped once read");
    assert_eq!(p.server.active_calls(), 0);
}

/// A server-streaming call whose request the server has read.
fn streaming_call(p: &mut GrpcPair) -> CallId {
    let call = p.client.start_call(p.now, req("/s/Stream")).unwrap();
    p.client.send_last_message(call, Bytes::from_static(b"go")).unwrap();
    p.drive();
    server_events(p);
    server_recv_all(p, call);
    call
}

#[test]
fn server_streaming_call() {
    let mut p = pair(2);
    let call = streaming_call(&mut p);
    for i in 0..100u32 {
        p.server.send_message(call, Bytes::from(i.to_be_bytes().to_vec())).unwrap();
    }
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    let (msgs, end) = client_recv_all(&mut p, call);
    assert!(end);
    assert_eq!(msgs.len(), 100);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(&m[..], &(i as u32).to_be_bytes());
    }
    assert_eq!(finished(&ev, call).unwrap().0.code, Code::Ok);
}

#[test]
fn client_streaming_call() {
    let mut p = pair(3);
    let call = p.client.start_call(p.now, req("/s/Collect")).unwrap();
    for i in 0..50u8 {
        p.client.send_message(call, Bytes::from(vec![i; i as usize])).unwrap();
    }
    p.client.half_close(call).unwrap();
    p.drive();
    let ev = server_events(&mut p);
    assert!(ev.iter().any(|e| matches!(e, ServerEvent::Message { .. })));
    let (msgs, end) = server_recv_all(&mut p, call);
    assert!(end && msgs.len() == 50, "reading reaches the end of the request stream");
    let total: usize = msgs.iter().map(Bytes::len).sum();
    p.server.send_message(call, Bytes::from(total.to_string())).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    assert_eq!(client_recv_all(&mut p, call).0, vec![Bytes::from((0..50).sum::<usize>().to_string())]);
}

#[test]
fn bidi_ping_pong() {
    let mut p = pair(4);
    let call = p.client.start_call(p.now, req("/s/Chat")).unwrap();
    for i in 0..20u8 {
        p.client.send_message(call, Bytes::from(vec![i])).unwrap();
        p.drive();
        server_events(&mut p);
        let (msgs, _) = server_recv_all(&mut p, call);
        assert_eq!(msgs, vec![Bytes::from(vec![i])]);
        p.server.send_message(call, Bytes::from(vec![i, i])).unwrap();
        p.drive();
        client_events(&mut p);
        assert_eq!(client_recv_all(&mut p, call).0, vec![Bytes::from(vec![i, i])]);
    }
    p.client.half_close(call).unwrap();
    p.drive();
    // The half-close arrives on its own: reported as an event.
    let ev = server_events(&mut p);
    assert!(ev.contains(&ServerEvent::HalfClosed { call }), "{ev:?}");
    assert_eq!(server_recv_all(&mut p, call), (vec![], true));
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    assert_eq!(finished(&client_events(&mut p), call).unwrap().0.code, Code::Ok);
}

#[test]
fn many_concurrent_calls() {
    let mut sc = ServerConfig::default();
    sc.h2.max_concurrent_streams = 100;
    let mut p = Pair::grpc(ClientConfig::default(), sc, 5);
    p.drive();
    let calls: Vec<CallId> = (0..1000u32)
        .map(|i| {
            let c = p.client.start_call(p.now, req("/s/Echo")).unwrap();
            p.client.send_last_message(c, Bytes::from(i.to_string())).unwrap();
            c
        })
        .collect();
    let mut replies: HashMap<CallId, Bytes> = HashMap::new();
    let mut done = 0;
    for _ in 0..10_000 {
        p.drive_rounds(1);
        for e in server_events(&mut p) {
            if let ServerEvent::Message { call } | ServerEvent::HalfClosed { call } = e {
                let (msgs, end) = server_recv_all(&mut p, call);
                for m in msgs {
                    p.server.send_message(call, m).unwrap();
                }
                if end {
                    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
                }
            }
        }
        for e in client_events(&mut p) {
            match e {
                ClientEvent::Message { call } => {
                    for m in client_recv_all(&mut p, call).0 {
                        replies.insert(call, m);
                    }
                }
                ClientEvent::Finished { status, .. } => {
                    assert_eq!(status.code, Code::Ok);
                    done += 1;
                }
                _ => {}
            }
        }
        if done == calls.len() {
            break;
        }
    }
    assert_eq!(done, 1000);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(replies[c], Bytes::from(i.to_string()), "reply of call {i}");
    }
}

fn echo_size(p: &mut GrpcPair, size: usize) -> Result<usize, Status> {
    let call = p.client.start_call(p.now, req("/s/Echo")).unwrap();
    let body = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    p.client.send_last_message(call, body.clone()).unwrap();
    let mut got = None;
    for _ in 0..10_000 {
        p.drive_rounds(1);
        for e in server_events(p) {
            match e {
                ServerEvent::Message { call } | ServerEvent::HalfClosed { call } => {
                    let (msgs, end) = server_recv_all(p, call);
                    for m in msgs {
                        assert_eq!(m, body, "server got the exact bytes");
                        p.server.send_message(call, m).unwrap();
                    }
                    if end {
                        p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
                    }
                }
                ServerEvent::Cancelled { reason, .. } => return Err(reason),
                _ => {}
            }
        }
        for e in client_events(p) {
            match e {
                ClientEvent::Message { call } => {
                    for m in client_recv_all(p, call).0 {
                        assert_eq!(m, body, "client got the exact bytes");
                        got = Some(m.len());
                    }
                }
                ClientEvent::Finished { status, .. } if !status.is_ok() => return Err(status),
                ClientEvent::Finished { .. } => {
                    return got.ok_or_else(|| Status::new(Code::Internal, "no reply"));
                }
                _ => {}
            }
        }
    }
    Err(Status::new(Code::Internal, "no progress"))
}

#[test]
fn message_sizes_around_every_boundary() {
    let mut p = pair(6);
    for size in [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 4 << 20] {
        assert_eq!(echo_size(&mut p, size), Ok(size), "size {size}");
    }
}

#[test]
fn message_over_the_receive_limit_is_resource_exhausted() {
    let mut p = pair(7);
    let err = echo_size(&mut p, (4 << 20) + 1).unwrap_err();
    assert_eq!(err.code, Code::ResourceExhausted, "{err}");
    // The client learns it too, through the trailers.
    p.drive();
    let ev = client_events(&mut p);
    let (status, _) = ev
        .iter()
        .find_map(|e| match e {
            ClientEvent::Finished { status, trailers, .. } => Some((status.clone(), trailers.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(status.code, Code::ResourceExhausted);
    // And the connection still works.
    assert_eq!(echo_size(&mut p, 10), Ok(10));
}

#[test]
fn trailers_only_error() {
    let mut p = pair(8);
    let call = p.client.start_call(p.now, req("/s/Missing")).unwrap();
    p.client.send_last_message(call, Bytes::new()).unwrap();
    p.drive();
    server_events(&mut p);
    let st = Status::new(Code::NotFound, "no such thing");
    p.server.finish(call, &st, &Metadata::new()).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    assert!(!ev.iter().any(|e| matches!(e, ClientEvent::Headers { .. })), "trailers-only: {ev:?}");
    assert_eq!(finished(&ev, call).unwrap().0, st);
}

#[test]
fn deadline_expires_on_both_sides() {
    let mut p = pair(9);
    let mut r = req("/s/Slow");
    r.timeout = Some(Duration::from_millis(500));
    let call = p.client.start_call(p.now, r).unwrap();
    p.client.send_last_message(call, Bytes::new()).unwrap();
    p.drive();
    let ev = server_events(&mut p);
    let Some(ServerEvent::Call { start, .. }) = ev.first() else { panic!("{ev:?}") };
    assert_eq!(start.timeout, Some(Duration::from_millis(500)));
    // Time passes; the server's timer fires before the client's RST arrives.
    p.advance(Duration::from_millis(501));
    let sev = server_events(&mut p);
    assert!(
        sev.iter().any(
            |e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::DeadlineExceeded)
        ),
        "{sev:?}"
    );
    let cev = client_events(&mut p);
    assert_eq!(finished(&cev, call).unwrap().0.code, Code::DeadlineExceeded);
    p.drive();
    assert_eq!(p.client.active_calls(), 0);
    assert_eq!(p.server.active_calls(), 0);
    assert!(p.server.send_message(call, Bytes::new()).is_err(), "server can no longer send");
}

#[test]
fn client_cancellation_reaches_the_server() {
    let mut p = pair(10);
    let call = p.client.start_call(p.now, req("/s/Long")).unwrap();
    p.client.send_message(call, Bytes::from_static(b"x")).unwrap();
    p.drive();
    server_events(&mut p);
    p.client.cancel(call);
    assert_eq!(finished(&client_events(&mut p), call).unwrap().0.code, Code::Cancelled);
    p.drive();
    let ev = server_events(&mut p);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::Cancelled)),
        "{ev:?}"
    );
}

#[test]
fn server_cancellation_reaches_the_client() {
    let mut p = pair(11);
    let call = p.client.start_call(p.now, req("/s/Long")).unwrap();
    p.drive();
    server_events(&mut p);
    p.server.cancel(call);
    p.drive();
    assert_eq!(finished(&client_events(&mut p), call).unwrap().0.code, Code::Cancelled);
}

#[test]
fn metadata_round_trips_ascii_and_binary() {
    let mut p = pair(12);
    let mut md = Metadata::new();
    md.append("x-request-id", "42").unwrap();
    md.append_bin("x-trace-bin", vec![0u8, 255, 7]).unwrap();
    let mut r = req("/s/Meta");
    r.metadata = md.clone();
    let call = p.client.start_call(p.now, r).unwrap();
    p.client.send_last_message(call, Bytes::new()).unwrap();
    p.drive();
    let ev = server_events(&mut p);
    let got = ev.iter().find_map(|e| match e {
        ServerEvent::Call { start, .. } => Some(start.metadata.clone()),
        _ => None,
    });
    let got = got.unwrap();
    assert_eq!(got.get_str("x-request-id"), Some("42"));
    assert_eq!(&got.get("x-trace-bin").unwrap()[..], &[0, 255, 7]);
    let mut initial = Metadata::new();
    initial.append("x-initial", "yes").unwrap();
    let mut trailing = Metadata::new();
    trailing.append_bin("x-trailing-bin", vec![9u8; 40]).unwrap();
    p.server.send_headers(call, &initial).unwrap();
    p.server.finish(call, &Status::ok(), &trailing).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    let headers = ev.iter().find_map(|e| match e {
        ClientEvent::Headers { metadata, .. } => Some(metadata.clone()),
        _ => None,
    });
    assert_eq!(headers.unwrap().get_str("x-initial"), Some("yes"));
    let (_, trailers) = finished(&ev, call).unwrap();
    assert_eq!(&trailers.get("x-trailing-bin").unwrap()[..], &[9u8; 40]);
}

#[test]
fn status_details_round_trip() {
    let mut p = pair(13);
    let call = p.client.start_call(p.now, req("/s/Fail")).unwrap();
    p.client.send_last_message(call, Bytes::new()).unwrap();
    p.drive();
    server_events(&mut p);
    let st = Status::new(Code::FailedPrecondition, "precondition ☹ failed: 100%")
        .with_details(vec![8u8, 1, 18, 3]);
    p.server.send_message(call, Bytes::from_static(b"partial")).unwrap();
    p.server.finish(call, &st, &Metadata::new()).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    assert_eq!(finished(&ev, call).unwrap().0, st);
    assert_eq!(
        client_recv_all(&mut p, call).0,
        vec![Bytes::from_static(b"partial")],
        "messages before the status still readable"
    );
}

/// Per-call request compression and per-message response compression, for
/// every built-in algorithm.
#[test]
fn compressed_messages_both_ways() {
    let algos: &[&'static str] =
        if cfg!(feature = "zstd") { &["gzip", "deflate", "zstd"] } else { &["gzip", "deflate"] };
    for (seed, &algo) in (14..).zip(algos) {
        let mut p = pair(seed);
        let mut r = req("/s/Zip");
        r.compression = Some(algo);
        let call = p.client.start_call(p.now, r).unwrap();
        let big = Bytes::from(vec![b'z'; 100_000]);
        p.client.send_last_message(call, big.clone()).unwrap();
        p.drive();
        assert!(p.to_server_total < 10_000, "{algo}: request was compressed: {} bytes", p.to_server_total);
        let ev = server_events(&mut p);
        let Some(ServerEvent::Call { start, .. }) = ev.first() else { panic!() };
        assert_eq!(start.encoding, Some(algo));
        assert_eq!(server_recv_all(&mut p, call).0, vec![big.clone()]);
        p.server.set_send_compression(call, Some(algo)).unwrap();
        p.server.send_message(call, big.clone()).unwrap();
        p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
        let before = p.to_client_total;
        p.drive();
        assert!(p.to_client_total - before < 10_000, "{algo}: response was compressed");
        client_events(&mut p);
        assert_eq!(client_recv_all(&mut p, call).0, vec![big]);
    }
}

#[test]
fn unsupported_request_encoding_is_unimplemented() {
    let mut p = Pair::grpc(
        ClientConfig::default(),
        {
            let mut c = ServerConfig::default();
            c.messages.compressors = weir_core::grpc::Compressors::none();
            c
        },
        15,
    );
    let mut r = req("/s/Zip");
    r.compression = Some("gzip");
    let call = p.client.start_call(p.now, r).unwrap();
    p.client.send_last_message(call, Bytes::from_static(b"x")).unwrap();
    p.drive();
    assert!(started(&server_events(&mut p)).is_empty(), "never reaches a handler");
    let (status, _) = finished(&client_events(&mut p), call).unwrap();
    assert_eq!(status.code, Code::Unimplemented);
}

#[test]
fn server_never_compresses_with_an_encoding_the_client_does_not_accept() {
    let client = {
        let mut c = ClientConfig::default();
        c.messages.compressors = weir_core::grpc::Compressors::none();
        c
    };
    let mut p = Pair::grpc(client, ServerConfig::default(), 16);
    let call = p.client.start_call(p.now, req("/s/Zip")).unwrap();
    p.client.send_last_message(call, Bytes::new()).unwrap();
    p.drive();
    server_events(&mut p);
    p.server.set_send_compression(call, Some("gzip")).unwrap();
    p.server.send_message(call, Bytes::from(vec![b'z'; 10_000])).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    client_events(&mut p);
    let (msgs, _) = client_recv_all(&mut p, call);
    assert_eq!(msgs, vec![Bytes::from(vec![b'z'; 10_000])], "sent uncompressed, readable");
    assert!(p.to_client_total > 10_000, "not compressed on the wire");
}

/// RFC 9113 §8.1: a server may answer before the request ends and then send
/// RST_STREAM(NO_ERROR); the client must still deliver the complete response it
/// received. Found by the `grpc_pair` fuzz target.
#[test]
fn response_before_request_end_survives_the_servers_early_reset() {
    let mut p = pair(12);
    // The whole response and the reset arrive in one read.
    p.split = false;
    let call = p.client.start_call(p.now, req("/s/Early")).unwrap();
    p.client.send_message(call, Bytes::from_static(b"req")).unwrap();
    p.drive();
    server_events(&mut p);
    p.server.send_message(call, Bytes::from_static(b"one")).unwrap();
    p.server.send_message(call, Bytes::from_static(b"two")).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    let ev = client_events(&mut p);
    assert_eq!(finished(&ev, call).expect("finished").0.code, Code::Ok, "{ev:?}");
    let (msgs, _) = client_recv_all(&mut p, call);
    assert_eq!(msgs, vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]);
}

/// `count` messages framed back to back the way a batching owner does.
fn framed(messages: &[Bytes]) -> Bytes {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&weir_core::grpc::codec::prefix(false, m.len() as u32));
        out.extend_from_slice(m);
    }
    out.into()
}

/// Messages sent as one framed batch arrive one by one (PROTOCOL-HTTP2: a
/// DATA frame may carry several Length-Prefixed-Messages) and are taken in
/// batches bounded by their room; a compressing call compresses each one.
#[test]
fn framed_batches_both_ways_and_batched_receive() {
    use weir_core::grpc::{Received, RecvBatch, Room};
    for compress in [None, Some("gzip")] {
        let mut p = pair(40);
        let mut r = req("/s/Batch");
        r.compression = compress;
        let call = p.client.start_call(p.now, r).unwrap();
        let msgs: Vec<Bytes> =
            (0..200u32).map(|i| Bytes::from(vec![i as u8; 1 + (i as usize % 7) * 50])).collect();
        p.client.send_framed(call, framed(&msgs[..150]), false).unwrap();
        p.client.send_framed(call, framed(&msgs[150..]), true).unwrap();
        p.drive();
        server_events(&mut p);
        // Batches stop at their room: at least one message each time.
        let mut got = Received::new();
        let room = Room { bytes: 1000, per_message: 64 };
        let mut batches = 0;
        let end = loop {
            let before = got.len();
            let next = p.server.recv_messages(call, room, &mut got).unwrap();
            batches += 1;
            assert!(got.len() > before || next != RecvBatch::Full, "a full batch took something");
            let cost: usize = got.iter().skip(before).map(|(m, _)| m.len() + 64).sum();
            assert!(cost < 1000 + 400, "a batch stops at its room (one message may cross it): {cost}");
            if next != RecvBatch::Full {
                break next;
            }
        };
        assert_eq!(end, RecvBatch::End);
        assert!(batches > 10, "{batches} batches");
        assert!(got.iter().all(|(_, flag)| flag == compress.is_some()), "compressed per message");
        assert_eq!(got.into_iter().map(|(m, _)| m).collect::<Vec<_>>(), msgs);
        if let Some(algo) = compress {
            p.server.set_send_compression(call, Some(algo)).unwrap();
        }
        p.server.send_framed(call, framed(&msgs)).unwrap();
        p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
        p.drive();
        client_events(&mut p);
        let mut back = Received::new();
        assert_eq!(p.client.recv_messages(call, Room::ALL, &mut back).unwrap(), RecvBatch::End);
        assert_eq!(back.into_iter().map(|(m, _)| m).collect::<Vec<_>>(), msgs);
    }
}

/// A batch is checked before anything is queued: a message over the send
/// limit is RESOURCE_EXHAUSTED (as one sent alone), a malformed batch INTERNAL.
#[test]
fn framed_batches_are_checked() {
    let mut p = Pair::grpc(
        {
            let mut c = ClientConfig::default();
            c.messages.max_send_message_size = 100;
            c
        },
        {
            let mut c = ServerConfig::default();
            c.messages.max_send_message_size = 100;
            c
        },
        41,
    );
    let call = p.client.start_call(p.now, req("/s/Batch")).unwrap();
    let ok = Bytes::from(vec![1u8; 100]);
    let big = Bytes::from(vec![2u8; 101]);
    let err = p.client.send_framed(call, framed(&[ok.clone(), big.clone()]), true).unwrap_err();
    assert_eq!(err.code, Code::ResourceExhausted, "{err:?}");
    // Refused as a whole: the request stream is still open for the next batch.
    p.client.send_framed(call, framed(std::slice::from_ref(&ok)), false).unwrap();
    p.drive();
    server_events(&mut p);
    let mut truncated = framed(std::slice::from_ref(&ok)).to_vec();
    truncated.pop();
    let err = p.server.send_framed(call, truncated.into()).unwrap_err();
    assert_eq!(err.code, Code::Internal, "{err:?}");
    let mut flagged = framed(std::slice::from_ref(&ok)).to_vec();
    flagged[0] = 1;
    assert_eq!(p.server.send_framed(call, flagged.into()).unwrap_err().code, Code::Internal);
    assert_eq!(p.server.send_framed(call, framed(&[big])).unwrap_err().code, Code::ResourceExhausted);
    assert_eq!(server_recv_all(&mut p, call).0, vec![ok.clone()], "the good batch arrived");
    p.server.send_framed(call, framed(&[ok.clone(), ok.clone()])).unwrap();
    p.drive();
    client_events(&mut p);
    assert_eq!(client_recv_all(&mut p, call).0, vec![ok.clone(), ok], "nothing of the bad batches was sent");
}

/// A batch checked where it was framed (`BatchCheck::of`) is queued without
/// being read again, still within `max_send_message_size`; a check made of
/// other octets (even of the same length) is ignored and the batch read.
#[test]
fn checked_batches_keep_their_limits() {
    let mut p = Pair::grpc(
        ClientConfig::default(),
        {
            let mut c = ServerConfig::default();
            c.messages.max_send_message_size = 100;
            c
        },
        43,
    );
    let call = p.client.start_call(p.now, req("/s/Checked")).unwrap();
    p.drive();
    server_events(&mut p);
    let ok = Bytes::from(vec![1u8; 100]);
    let big = Bytes::from(vec![2u8; 101]);
    let two = framed(&[ok.clone(), ok.clone()]);
    let check = BatchCheck::of(&two).unwrap();
    assert_eq!((check.messages(), check.payload()), (2, 200));
    let large = framed(&[big]);
    let err = p.server.send_framed_checked(call, large.clone(), BatchCheck::of(&large).ok()).unwrap_err();
    assert_eq!(err.code, Code::ResourceExhausted, "{err:?}");
    // The check of another buffer does not vouch for this one.
    let mut flagged = framed(&[ok.clone(), ok.clone()]).to_vec();
    flagged[0] = 1;
    let err = p.server.send_framed_checked(call, flagged.into(), Some(check)).unwrap_err();
    assert_eq!(err.code, Code::Internal, "{err:?}");
    let odd = framed(std::slice::from_ref(&ok));
    let err = p.server.send_framed_checked(call, odd.slice(..odd.len() - 1), Some(check)).unwrap_err();
    assert_eq!(err.code, Code::Internal, "{err:?}");
    p.server.send_framed_checked(call, two, Some(check)).unwrap();
    assert_eq!(p.server.wire_bytes(call).unwrap().sent, 200);
    p.drive();
    client_events(&mut p);
    assert_eq!(client_recv_all(&mut p, call).0, vec![ok.clone(), ok], "only the good batch was sent");
}

/// A finished call's messages taken out of the connection (`take_rest`):
/// the same messages in the same order as taking them one by one, the
/// connection forgets the call and its receive hold, and a single message
/// or a compressed one is left to `recv_messages`.
#[test]
fn a_finished_calls_rest_leaves_the_connection() {
    let mut p = pair(9);
    let call = streaming_call(&mut p);
    assert!(p.client.take_rest(call).is_none(), "not finished yet");
    for i in 0..300u32 {
        p.server.send_message(call, Bytes::from(vec![i as u8; i as usize % 70])).unwrap();
    }
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    assert_eq!(finished(&client_events(&mut p), call).unwrap().0.code, Code::Ok);
    let mut rest = p.client.take_rest(call).expect("300 messages held");
    let payload: u64 = (0..300u64).map(|i| i % 70).sum();
    assert_eq!(rest.size(), (300, payload));
    assert_eq!(p.client.h2().stats().recv_buffered, 0);
    assert!(matches!(p.client.recv_message(call), Err(_) | Ok(RecvMessage::End)), "the call is forgotten");
    for i in 0..300u32 {
        assert_eq!(rest.next_message(), Some(Bytes::from(vec![i as u8; i as usize % 70])), "message {i}");
    }
    assert_eq!(rest.next_message(), None);

    // One message (a unary response) stays with the connection.
    let call = streaming_call(&mut p);
    p.server.send_message(call, Bytes::from_static(b"one")).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    client_events(&mut p);
    assert!(p.client.take_rest(call).is_none(), "one message is taken as before");
    assert_eq!(client_recv_all(&mut p, call), (vec![Bytes::from_static(b"one")], true));
}
