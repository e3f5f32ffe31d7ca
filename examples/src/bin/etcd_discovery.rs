//! `etcd_discovery`: service discovery on etcd, end to end.
//!
//! Starts etcd (from PATH) on loopback ports with a temporary data
//! directory, then three greeter instances as separate processes, each
//! registering `/services/greeter/<id>` under a 3 s lease it keeps alive. A
//! client resolves them through etcd and round-robins. Instance 1 is killed
//! with SIGKILL (no deregistration): it drops out when its lease expires. A
//! fourth instance joins and starts receiving calls. Everything is stopped
//! at the end (the instances gracefully, deleting their keys).
//!
//! `etcd_discovery instance <id> <etcd-url>` is one instance (what the
//! example starts).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use weir_etcd::{EtcdClient, EtcdResolver, Registration, ResolverView};
use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::greeter_client::GreeterClient;
use weir_examples::helloworld::greeter_server::{Greeter, GreeterServer};
use weir_examples::helloworld::{HelloReply, HelloRequest};
use weir_rt::{Request, Response, Status, Streaming};
use weir_tokio::{Endpoint, Server, Tokio};

const PREFIX: &str = "/services/greeter/";
const TTL: Duration = Duration::from_secs(3);

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("instance") {
        return instance(&args[2], &args[3]).await;
    }
    if Command::new("etcd").arg("--version").stdout(Stdio::null()).status().is_err() {
        eprintln!(
            "etcd is not on PATH. Install it with scripts/setup-etcd.sh (Debian: apt-get install etcd-server)."
        );
        std::process::exit(1);
    }
    let etcd = EtcdProcess::start()?;
    println!("etcd running at {}", etcd.url);
    let mut instances = Instances::default();
    for id in 0..3 {
        instances.start(id, &etcd.url)?;
    }

    let client = EtcdClient::connect::<Tokio>(&etcd.url).await?;
    let resolver = EtcdResolver::new(Tokio, client, PREFIX);
    let view = resolver.view();
    let channel = Endpoint::new("http://greeter")?
        .resolver(resolver)
        .balancer(weir_rt::client::RoundRobin::default())
        .connect_lazy()?;
    // Start resolving now (a lazy channel starts with its first call).
    channel.state(true);
    let greeter = GreeterClient::new(channel);

    wait(&view, "three instances registered", |n| n == 3).await;
    tally(&greeter, "all three").await?;

    let killed_at = Instant::now();
    instances.kill(1);
    println!(
        "\ninstance 1 killed with SIGKILL (no deregistration); its lease ({TTL:?}) keeps it listed a while"
    );
    wait(&view, "instance 1 dropped out", |n| n == 2).await;
    println!("instance 1 left the list {:.1?} after the kill", killed_at.elapsed());
    tally(&greeter, "after the kill").await?;

    instances.start(3, &etcd.url)?;
    let joined = Instant::now();
    wait(&view, "instance 3 registered", |n| n == 3).await;
    println!("\ninstance 3 joined {:.1?} after it started", joined.elapsed());
    tally(&greeter, "with instance 3").await?;
    Ok(())
}

/// 30 calls; prints who answered.
async fn tally(greeter: &GreeterClient, when: &str) -> Result<(), Status> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..30 {
        let reply = greeter.say_hello(HelloRequest { name: "etcd".into() }).await?;
        *by.entry(reply.into_inner().message).or_default() += 1;
    }
    println!("30 calls, {when}:");
    for (who, n) in by {
        println!("  {n:2} × {who}");
    }
    Ok(())
}

/// Waits until the resolver lists a number of addresses `ok` accepts.
async fn wait(view: &ResolverView, what: &str, ok: impl Fn(usize) -> bool) {
    let start = Instant::now();
    while !ok(view.addresses().len()) {
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: not after 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One instance: a greeter that names itself, registered in etcd until a
/// graceful stop (SIGTERM, Ctrl-C) deletes its key.
async fn instance(id: &str, etcd_url: &str) -> Result<(), Error> {
    let bound = Server::builder()
        .add_service(GreeterServer::new(Instance(format!("instance {id}"))))
        .bind("127.0.0.1:0".parse()?)
        .await?;
    let addr = bound.local_addr().expect("tcp");
    let etcd = EtcdClient::connect::<Tokio>(etcd_url).await?;
    let registration = Registration::start(Tokio, etcd, format!("{PREFIX}{id}"), addr.to_string(), TTL);
    println!("instance {id} serving on {addr}");
    bound.serve_with_shutdown(registration.deregister_on(weir_tokio::shutdown_signal())).await?;
    Ok(())
}

/// The example greeter, answering with its instance's name.
struct Instance(String);

impl Greeter for Instance {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}, from {}", self.0) }))
    }

    type SayHelloStreamReplyStream = BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_stream_reply(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHelloStreamReplyStream>, Status> {
        MyGreeter.say_hello_stream_reply(request).await
    }

    type SayHelloBidiStreamStream = BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_bidi_stream(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::SayHelloBidiStreamStream>, Status> {
        MyGreeter.say_hello_bidi_stream(request).await
    }
}

/// The instance processes; stopped gracefully (SIGTERM) when dropped.
#[derive(Default)]
struct Instances(BTreeMap<u32, Child>);

impl Instances {
    fn start(&mut self, id: u32, etcd_url: &str) -> std::io::Result<()> {
        let child = Command::new(std::env::current_exe()?)
            .args(["instance", &id.to_string(), etcd_url])
            .stdout(Stdio::inherit())
            .spawn()?;
        self.0.insert(id, child);
        Ok(())
    }

    /// SIGKILL: the process gets no chance to deregister.
    fn kill(&mut self, id: u32) {
        if let Some(mut child) = self.0.remove(&id) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        for child in self.0.values_mut() {
            let _ = child.wait();
        }
    }
}

/// etcd on free loopback ports with a temporary data directory.
struct EtcdProcess {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl EtcdProcess {
    fn start() -> std::io::Result<Self> {
        let port = || -> std::io::Result<SocketAddr> { TcpListener::bind("127.0.0.1:0")?.local_addr() };
        let (client, peer) = (format!("http://{}", port()?), format!("http://{}", port()?));
        let dir = std::env::temp_dir().join(format!("weir-etcd-example-{}", std::process::id()));
        let child = Command::new("etcd")
            .args(["--name", "example", "--data-dir"])
            .arg(&dir)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args([
                "--initial-cluster",
                &format!("example={peer}"),
                "--log-level",
                "error",
                "--logger",
                "zap",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(EtcdProcess { child, dir, url: client })
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
