//! The metrics example against the real Prometheus tools (Debian's
//! `prometheus` package, installed by `scripts/setup-prometheus.sh`):
//! `promtool check metrics` accepts its `/metrics` text, and a Prometheus
//! server scraping it on loopback answers a query for
//! `grpc_server_call_duration_seconds_count` with the calls made.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps a child process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("weir-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool(name: &str) -> String {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(found.status.success(), "{name} is not installed: run scripts/setup-prometheus.sh");
    String::from_utf8(found.stdout).unwrap().trim().to_owned()
}

/// `GET` over HTTP/1.1 on loopback: (status code, body).
fn get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((code, body.to_owned()))
}

/// The value of the series in `text` whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The example started with `source`, after three SayHello calls: its
/// guard and the address of its `/metrics`, whose text was checked (the
/// series' values, and `promtool check metrics`).
fn example_after_three_calls(source: &str, promtool: &str) -> (Killed, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_metrics_server"))
        .args(["127.0.0.1:0", "127.0.0.1:0", source])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let server = Killed(server);
    let words: Vec<&str> = line.split_whitespace().collect();
    let (grpc, url) = (words[3].to_owned(), words[6].to_owned());
    let metrics_addr = url.trim_start_matches("http://").trim_end_matches("/metrics").to_owned();

    for _ in 0..3 {
        let out = Command::new(env!("CARGO_BIN_EXE_helloworld_client"))
            .arg(format!("http://{grpc}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    let (code, text) = get(&metrics_addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    let ok = "{grpc_method=\"helloworld.Greeter/SayHello\",grpc_status=\"OK\",";
    assert_eq!(
        sample(&text, &format!("grpc_server_call_duration_seconds_count{ok}")),
        Some(3.0),
        "{source}: {text}"
    );
    let started = "grpc_server_call_started_total{grpc_method=\"helloworld.Greeter/SayHello\",";
    assert_eq!(sample(&text, started), Some(3.0), "{source}: {text}");
    let received = format!("grpc_server_call_rcvd_total_compressed_message_size_bytes_sum{ok}");
    assert_eq!(sample(&text, &received), Some(21.0), "{source}: 3 requests of 7 bytes: {text}");
    assert_eq!(get(&metrics_addr, "/nope").unwrap().0, 404);

    // promtool's exposition-format checks and lints.
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "{source}: promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    (server, metrics_addr)
}

#[test]
fn promtool_accepts_both_metrics_sources() {
    let promtool = tool("promtool");
    for source in ["sdk", "native"] {
        example_after_three_calls(source, &promtool);
    }
}

#[test]
fn prometheus_scrapes_the_metrics_example() {
    let promtool = tool("promtool");
    let prometheus = tool("prometheus");
    let (_server, metrics_addr) = example_after_three_calls("sdk", &promtool);

    // A real Prometheus scraping the example every second.
    let dir = TempDir::new("prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: weir\n    static_configs:\n      - targets: [\"{metrics_addr}\"]\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let prom = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prom = Killed(prom);

    let query = "/api/v1/query?query=grpc_server_call_duration_seconds_count";
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        if let Ok((200, body)) = get(&web, query)
            && body.contains("helloworld.Greeter/SayHello")
        {
            break body;
        }
        assert!(Instant::now() < deadline, "Prometheus never had the series");
        std::thread::sleep(Duration::from_millis(250));
    };
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[ts,"3"]}]}}
    assert!(answer.contains("\"status\":\"success\""), "{answer}");
    let value = answer
        .split("\"value\":[")
        .nth(1)
        .and_then(|v| v.split('"').nth(1))
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(value, Some(3.0), "{answer}");
    assert!(answer.contains("\"grpc_status\":\"OK\""), "{answer}");
    assert!(answer.contains("\"job\":\"weir\""), "{answer}");
}
