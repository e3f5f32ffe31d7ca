//! The web_demo example in a real browser: Debian's headless Chromium,
//! driven by `examples/web/browser_test.js` (playwright-core), loads the
//! page from web_demo's page port and calls the Greeter on its gRPC port
//! (another origin: CORS preflight) with `@connectrpc/connect-web`'s
//! gRPC-Web transport. Needs `scripts/setup-browser.sh` (chromium, the npm
//! packages and the bundled script); fails, not skips, without them.
//!
//! Screenshots land in `target/browser-test/` (CI keeps them as artifacts).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest the driver may take (browser start, page, three calls).
const DRIVER_LIMIT: Duration = Duration::from_secs(90);
/// The longest web_demo may take to print its addresses.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Kills and reaps a child process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// The browser, node and examples/web's packages and bundle, or a panic
/// that says to run the setup script.
fn check_setup() -> PathBuf {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let web = web_dir();
    for (what, path) in [
        ("Chromium", chromium.clone()),
        ("playwright-core", web.join("node_modules/playwright-core/package.json")),
        ("the page's bundled script", web.join("dist/app.js")),
    ] {
        assert!(path.is_file(), "{what} ({}) is missing: run scripts/setup-browser.sh", path.display());
    }
    let node = Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "node is not installed: run scripts/setup-browser.sh");
    chromium
}

/// web_demo on free loopback ports (the OS picks them), allowing calls from
/// `allowed_origin` (default: its page's origin): its guard and page URL.
fn start_web_demo(allowed_origin: Option<&str>) -> (Killed, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_web_demo"));
    command.args(["127.0.0.1:0", "127.0.0.1:0"]).args(allowed_origin).stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(START_LIMIT).expect("web_demo printed no address");
    // "Greeter listening on GRPC_ADDR page on http://PAGE_ADDR/"
    let url = line.split_whitespace().nth(6).unwrap_or_else(|| panic!("web_demo said {line:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (server, url.to_owned())
}

/// Reads all of `r` on a thread.
fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = r.read_to_string(&mut out);
        out
    })
}

/// Runs browser_test.js against `url` (killed after DRIVER_LIMIT): its
/// stdout, after asserting it passed.
fn drive(chromium: &Path, url: &str, screenshot: &str, extra: &[&str]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-test");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join(screenshot);
    let _ = std::fs::remove_file(&shot);
    let started = Instant::now();
    let mut child = Command::new("node")
        .current_dir(web_dir())
        .arg("browser_test.js")
        .arg(url)
        .arg(&shot)
        .args(extra)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, err) = (drain(child.stdout.take().unwrap()), drain(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DRIVER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        None => panic!("browser_test.js still running after {DRIVER_LIMIT:?}, killed\n{out}{err}"),
        Some(status) => assert!(status.success(), "browser_test.js: {status}\n{out}{err}"),
    }
    assert!(out.lines().any(|l| l.starts_with("PASS web_demo")), "{out}{err}");
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
    eprintln!("{out}browser_test.js took {:?}", started.elapsed());
    out
}

#[test]
fn chromium_renders_unary_streaming_and_status_calls() {
    let chromium = check_setup();
    let (_server, url) = start_web_demo(None);
    let out = drive(&chromium, &url, "web_demo.png", &[]);
    // The driver checked these already; here so that the test says so too.
    assert!(out.contains(r#""unary":"Hello browser""#), "{out}");
    assert!(
        out.contains(r#""stream":["Hello browser","Bonjour browser","Hola browser","Hallo browser"]"#),
        "{out}"
    );
    assert!(
        out.contains(r#""error":"UNIMPLEMENTED: unknown method SayGoodbye for service helloworld.Greeter""#),
        "{out}"
    );
}

#[test]
fn chromium_gets_no_reply_when_the_page_origin_is_not_allowed() {
    let chromium = check_setup();
    let (_server, url) = start_web_demo(Some("https://app.example"));
    let out = drive(&chromium, &url, "web_demo_cors_refused.png", &["--expect-cors-refusal"]);
    assert!(out.contains(r#""unary":"error: UNKNOWN: Failed to fetch""#), "{out}");
}
