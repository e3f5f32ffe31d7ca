//! The simulation's own behaviour, on the Greeter: a call costs exactly the
//! round trips the network says, a crashed server is silent, a refused
//! connect is quick, and the event log tells the order.

use std::time::Duration;

use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::HelloRequest;
use weir_examples::helloworld::greeter_client::GreeterClient;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_rt::{Code, Endpoint, Request, Server};
use weir_sim::{Link, Sim, SimRt};

async fn serve_greeter(rt: SimRt) {
    let bound = Server::new(rt)
        .add_service(GreeterServer::new(MyGreeter))
        .bind(([0, 0, 0, 0], 50051).into())
        .await
        .expect("bind");
    let _ = bound.serve().await;
}

fn hello(name: &str) -> Request<HelloRequest> {
    let mut req = Request::new(HelloRequest { name: name.into() });
    req.set_timeout(Duration::from_secs(5));
    req
}

/// 50 ms one way: the connect takes one round trip (100 ms), the call one
/// more (its HEADERS and DATA go out with the connection preface).
#[test]
fn a_call_takes_the_round_trips_of_the_links() {
    let mut sim = Sim::new(1);
    let server = sim.host("server", serve_greeter);
    let client = sim.client("client");
    sim.set_default_link(Link { latency: Duration::from_millis(50), ..Link::default() });
    let addr = sim.addr(server, 50051);
    let (reply, took) = sim.run(client, move |rt, net| async move {
        let channel = Endpoint::with_runtime(rt, format!("http://{addr}"))
            .expect("target")
            .connect_lazy()
            .expect("lazy");
        let reply =
            GreeterClient::new(channel).say_hello(hello("sim")).await.expect("call").into_inner().message;
        (reply, net.elapsed())
    });
    assert_eq!(reply, "Hello sim");
    assert_eq!(took, Duration::from_millis(200));
    let log = sim.log();
    assert!(log[0].ends_with("10.0.0.1:50051 listening"), "{log:?}");
    assert!(log.iter().any(|l| l.ends_with("connected 10.0.0.1:50051")), "{log:?}");
}

/// Nothing listens: refused after one round trip, and the call fails
/// UNAVAILABLE without waiting for its deadline.
#[test]
fn a_connect_to_a_closed_port_is_refused_after_a_round_trip() {
    let mut sim = Sim::new(2);
    let server = sim.client("no-server");
    let client = sim.client("client");
    sim.set_default_link(Link { latency: Duration::from_millis(20), ..Link::default() });
    let addr = sim.addr(server, 50051);
    let (code, took) = sim.run(client, move |rt, net| async move {
        let channel = Endpoint::with_runtime(rt, format!("http://{addr}"))
            .expect("target")
            .connect_lazy()
            .expect("lazy");
        let err = GreeterClient::new(channel).say_hello(hello("x")).await.expect_err("nothing listens");
        (err.code, net.elapsed())
    });
    assert_eq!(code, Code::Unavailable);
    assert_eq!(took, Duration::from_millis(40));
    assert!(sim.log().iter().any(|l| l.ends_with("connect 10.0.0.1:50051: refused")));
}

/// A body that waits for nothing that can happen fails as a deadlock, with
/// the seed to rerun it, instead of hanging.
#[test]
#[should_panic(expected = "deadlock")]
fn a_body_that_can_never_finish_is_reported_as_a_deadlock() {
    let mut sim = Sim::new(3);
    let client = sim.client("client");
    sim.run(client, |_rt, _net| std::future::pending::<()>());
}

/// A clock step (a suspended machine resuming) expires what came due in
/// between at once: a call with a 5 s deadline, waiting on a handler that
/// answers after 60 s, fails DEADLINE_EXCEEDED at the step, 1 s in.
#[test]
fn a_clock_step_expires_the_deadlines_it_jumps_over() {
    use weir_rt::runtime::Runtime;
    use weir_rt::{Method, Response};
    let mut sim = Sim::new(4);
    let server = sim.host("server", |rt: SimRt| async move {
        let sleeper = rt.clone();
        let bound = Server::new(rt)
            .route(
                "/slow.Slow/Call",
                Method::unary(move |req: Request<bytes::Bytes>| {
                    let rt = sleeper.clone();
                    async move {
                        rt.sleep_until(rt.now() + Duration::from_secs(60)).await;
                        Ok(Response::new(req.into_inner()))
                    }
                }),
            )
            .bind(([0, 0, 0, 0], 50051).into())
            .await
            .expect("bind");
        let _ = bound.serve().await;
    });
    let client = sim.client("client");
    let addr = sim.addr(server, 50051);
    let (code, at) = sim.run(client, move |rt, net| async move {
        let channel = Endpoint::with_runtime(rt.clone(), format!("http://{addr}"))
            .expect("target")
            .connect_lazy()
            .expect("lazy");
        let mut req = Request::new(bytes::Bytes::from_static(b"x"));
        req.set_timeout(Duration::from_secs(5));
        let call = channel.unary("/slow.Slow/Call", req);
        let step = async {
            rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
            net.step_clock(Duration::from_secs(30));
        };
        let (result, ()) = futures::join!(call, step);
        (result.expect_err("the deadline passed").code, net.elapsed())
    });
    assert_eq!(code, Code::DeadlineExceeded);
    assert_eq!(at, Duration::from_secs(31), "failed at the step, not later");
}
