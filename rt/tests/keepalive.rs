//! Keepalive enforcement over loopback against the tokio server: a client
//! pinging too often gets GOAWAY ENHANCE_YOUR_CALM `too_many_pings`, pings
//! within the policy are answered, and a channel told `too_many_pings`
//! pings less often on its next connections.

mod suite;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use suite::runners::run_on_tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_core::ErrorCode;
use weir_core::conn::{Config, Connection, ConnectionError, Event, Role, TOO_MANY_PINGS};
use weir_rt::stats::{ConnEnd, ConnInfo, StatsHandler};
use weir_rt::{Endpoint, Request, Server};
use weir_tokio::Tokio;

/// A bare HTTP/2 client over a tokio socket, for pinging at will.
struct RawClient {
    conn: Connection,
    tcp: TcpStream,
    events: Vec<Event>,
}

impl RawClient {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let conn = Connection::new(Role::Client, Config::default(), Instant::now());
        let mut c = RawClient { conn, tcp, events: Vec::new() };
        c.flush().await;
        c.read_until(|e| matches!(e, Event::Connected)).await;
        c
    }

    async fn flush(&mut self) {
        let mut out = Vec::new();
        while self.conn.poll_transmit(Instant::now(), &mut out) > 0 {}
        if !out.is_empty() {
            self.tcp.write_all(&out).await.unwrap();
        }
    }

    /// Reads until an event matches (true) or the connection ends (false).
    async fn read_until(&mut self, done: impl Fn(&Event) -> bool) -> bool {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            while let Some(e) = self.conn.poll_event() {
                let hit = done(&e);
                self.events.push(e);
                if hit {
                    return true;
                }
            }
            self.flush().await;
            let n = self.tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                self.conn.handle_eof(Instant::now());
                while let Some(e) = self.conn.poll_event() {
                    self.events.push(e);
                }
                return false;
            }
            self.conn.handle_input(Instant::now(), &buf[..n]);
        }
    }

    async fn ping(&mut self, payload: [u8; 8]) -> bool {
        self.conn.ping(Instant::now(), payload);
        self.flush().await;
        self.read_until(|e| matches!(e, Event::Pong { payload: p, .. } if *p == payload)).await
    }

    fn goaway(&self) -> Option<(ErrorCode, Bytes)> {
        self.events.iter().find_map(|e| match e {
            Event::GoAway { code, debug_data, .. } => Some((*code, debug_data.clone())),
            _ => None,
        })
    }
}

#[test]
fn pinging_too_often_gets_too_many_pings() {
    run_on_tokio(|rt: Tokio| async move {
        // The default policy: 5 minutes between pings, none without a call.
        let server = suite::start(&rt, Server::new(rt)).await;
        let mut client = RawClient::connect(server.addr.unwrap()).await;
        let mut answered = 0;
        for i in 0..10u8 {
            if !client.ping([i; 8]).await {
                break;
            }
            answered += 1;
        }
        assert_eq!(answered, 3, "the first ping and two strikes are answered");
        let (code, debug) = client.goaway().expect("GOAWAY");
        assert_eq!(code, ErrorCode::ENHANCE_YOUR_CALM);
        assert_eq!(&debug[..], TOO_MANY_PINGS);
        assert!(client.conn.peer_said_too_many_pings());
        server.stop().await;
    });
}

#[test]
fn pings_within_the_policy_are_answered() {
    run_on_tokio(|rt: Tokio| async move {
        let server = Server::new(rt).keepalive_policy(Duration::from_millis(20), true);
        let server = suite::start(&rt, server).await;
        let mut client = RawClient::connect(server.addr.unwrap()).await;
        for i in 0..6u8 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert!(client.ping([i; 8]).await, "ping {i} answered");
        }
        assert_eq!(client.goaway(), None);
        drop(client);
        server.stop().await;
    });
}

/// Records how each client connection ended.
#[derive(Default)]
struct ConnEnds(Mutex<Vec<Option<ConnectionError>>>);

impl StatsHandler for ConnEnds {
    fn conn_close(&self, _: &ConnInfo, end: &ConnEnd) {
        self.0.lock().unwrap().push(end.error);
    }
}

impl ConnEnds {
    fn calm_count(&self) -> usize {
        let ends = self.0.lock().unwrap();
        ends.iter().filter(|e| e.is_some_and(|e| e.code == ErrorCode::ENHANCE_YOUR_CALM)).count()
    }
}

#[test]
fn client_backs_off_after_too_many_pings() {
    run_on_tokio(|rt: Tokio| async move {
        // 250 ms between pings allowed; the client starts at 100 ms, so its
        // first two connections (100 ms, then 200 ms) are closed, and the
        // third (400 ms) is within the policy.
        let server =
            suite::test_server(rt, Default::default()).keepalive_policy(Duration::from_millis(250), true);
        let server = suite::start(&rt, server).await;
        let ends = Arc::new(ConnEnds::default());
        let channel = Endpoint::<Tokio>::new(server.url())
            .unwrap()
            .keepalive(Duration::from_millis(100), Duration::from_secs(5), true)
            .stats_handler(ends.clone())
            .connect_lazy()
            .unwrap();
        let call = || channel.unary("/test.Test/Unary", Request::new(Bytes::from_static(b"hi")));
        // Reconnect (with a call) each time a connection is closed, until one
        // lives through many pings at the interval it uses.
        let mut kills = 0;
        for _ in 0..5 {
            call().await.expect("call");
            let before = ends.calm_count();
            // Six pings at the third connection's interval.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
            while ends.calm_count() == before && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if ends.calm_count() == before {
                break;
            }
            kills += 1;
        }
        assert!((1..=3).contains(&kills), "closed for too many pings {kills} times");
        call().await.expect("the surviving connection still serves");
        assert_eq!(ends.calm_count(), kills, "no more too_many_pings once backed off");
        server.stop().await;
    });
}
