//! `bench-harness [--seconds N] [--out BENCHMARKS.md] [--only grpc-web|axum|small|latency]`: the
//! end-to-end comparison behind `benches/run.sh`. Runs every scenario against
//! Weir's and tonic's bench servers in the same run, on one and on two server
//! threads, and writes BENCHMARKS.md (method, commands, machine, table of
//! ratios). `--only grpc-web` (or `axum`, `small`, `latency`) runs only those rows and prints them
//! without writing the file.
//! Expects `bench-server`, `bench-client` and `mem-probe` next to itself and
//! `h2load` on PATH.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use weir_benches::args::Args;
use weir_benches::harness::h2load::{self, GRPC_WEB_SAY_HELLO_BODY, Load, SAY_HELLO_BODY};
use weir_benches::harness::report::{Better, Row, table};
use weir_benches::harness::{grpc_web, parse_kv, process};

const STACKS: [&str; 2] = ["weir", "tonic"];
/// `weir_rt::tcp::DEFAULT_LOOPBACK_SEND_BUFFER`.
const LOOPBACK_SEND_BUFFER: usize = weir_rt::tcp::DEFAULT_LOOPBACK_SEND_BUFFER;

struct Ctx {
    bins: PathBuf,
    work: PathBuf,
    body: PathBuf,
    seconds: u32,
}

impl Ctx {
    fn bin(&self, name: &str) -> Command {
        Command::new(self.bins.join(name))
    }
}

/// Every figure for one stack on one server configuration.
type Figures = HashMap<&'static str, f64>;

fn h2load_scenarios(seconds: u32) -> [(&'static str, Load); 3] {
    [
        ("unary, h2load -c 10 -m 10", Load { connections: 10, streams: 10, seconds }),
        ("unary, h2load -c 1 -m 1000 (many streams)", Load { connections: 1, streams: 1000, seconds }),
        ("unary, h2load -c 200 -m 1 (many connections)", Load { connections: 200, streams: 1, seconds }),
    ]
}

fn own_client(ctx: &Ctx, stack: &str, addr: &str, extra: &[&str]) -> Result<HashMap<String, String>, String> {
    let mut cmd = ctx.bin("bench-client");
    cmd.args(["--impl", stack, "--addr", addr, "--duration", &ctx.seconds.to_string()]).args(extra);
    let out = process::run(cmd, Duration::from_secs(u64::from(ctx.seconds) + 120))?;
    let line = out.lines().last().ok_or("bench-client printed nothing")?;
    Ok(parse_kv(line))
}

fn num(m: &HashMap<String, String>, key: &str) -> Result<f64, String> {
    m.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| format!("missing {key} in {m:?}"))
}

/// Starts a bench server; it stops when the guard drops.
fn start_server(
    ctx: &Ctx,
    stack: &str,
    runtime: &str,
    threads: u32,
    extra: &[&str],
) -> Result<(process::Guard, String), String> {
    let port = process::free_port().map_err(|e| e.to_string())?;
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = ctx.bin("bench-server");
    cmd.args(["--addr", &addr, "--threads", &threads.to_string(), "--runtime", runtime, "--impl", stack]);
    cmd.args(extra);
    let server = process::start_server(cmd, addr.parse().map_err(|e| format!("{e}"))?)?;
    eprintln!("-- {stack} on {runtime}, {threads} server thread(s), {addr} {extra:?}");
    Ok((server, addr))
}

/// MB/s of one 1 MiB server-streaming client.
fn stream_1m(ctx: &Ctx, stack: &str, addr: &str) -> Result<f64, String> {
    let m = own_client(
        ctx,
        stack,
        addr,
        &["--mode", "download", "--concurrency", "1", "--count", "64", "--size", "1048576"],
    )?;
    eprintln!("   download 1 MiB: {m:?}");
    num(&m, "mbps")
}

/// Runs every load scenario against one server; figures keyed by label.
fn measure_server(
    ctx: &Ctx,
    stack: &str,
    runtime: &str,
    threads: u32,
    full: bool,
) -> Result<Figures, String> {
    let (_server, addr) = start_server(ctx, stack, runtime, threads, &[])?;
    let mut f = Figures::new();
    let url = format!("http://{addr}/helloworld.Greeter/SayHello");
    for (i, (label, load)) in h2load_scenarios(ctx.seconds).into_iter().enumerate() {
        if !full && i > 0 {
            break;
        }
        let log = ctx.work.join(format!("h2load-{stack}-{runtime}-{threads}-{i}.log"));
        let o = h2load::run(&url, &ctx.body, load, &log)?;
        eprintln!(
            "   {label}: {:.0} req/s p50 {} µs p99 {} µs ({} failed)",
            o.rps, o.p50_us, o.p99_us, o.failed
        );
        if o.failed > 0 || o.succeeded == 0 {
            return Err(format!("{stack}: h2load {label}: {} failed, {} succeeded", o.failed, o.succeeded));
        }
        f.insert(["h2load0", "h2load1", "h2load2"][i], o.rps);
        f.insert(["h2load0_p99", "h2load1_p99", "h2load2_p99"][i], o.p99_us as f64);
        f.insert(["h2load0_p50", "h2load1_p50", "h2load2_p50"][i], o.p50_us as f64);
        f.insert(["h2load0_mean", "h2load1_mean", "h2load2_mean"][i], o.mean_us as f64);
    }
    if !full {
        return Ok(f);
    }
    let m = own_client(ctx, stack, &addr, &["--mode", "unary", "--connections", "1", "--concurrency", "64"])?;
    eprintln!("   own client unary: {m:?}");
    f.insert("own_unary", num(&m, "rps")?);
    f.insert("own_unary_p99", num(&m, "p99_us")?);
    let m = own_client(
        ctx,
        stack,
        &addr,
        &["--mode", "download", "--concurrency", "1", "--count", "10000", "--size", "1024"],
    )?;
    eprintln!("   download 1 KiB: {m:?}");
    f.insert("stream_1k", num(&m, "mbps")?);
    f.insert("stream_1m", stream_1m(ctx, stack, &addr)?);
    Ok(f)
}

/// Weir on compio (io_uring, one loop per core: `serve_per_core`) with 1 and
/// 2 server threads, every figure of `measure_server` against tonic, and the
/// throughput figures against Weir on tokio measured just before (the
/// "tonic" column of those rows is Weir on tokio).
fn compio_rows(ctx: &Ctx, on_tokio: &[(u32, Vec<Figures>)]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (threads, figures) in on_tokio {
        let compio = measure_server(ctx, "weir", "compio", *threads, true)?;
        for mut r in rows_for(*threads, &compio, &figures[1]) {
            r.scenario = format!("{} (Weir on compio)", r.scenario);
            rows.push(r);
        }
        for mut r in rows_for(*threads, &compio, &figures[0]) {
            if matches!(r.metric.as_str(), "req/s" | "calls/s" | "MB/s") {
                r.scenario = format!("{} (Weir on compio; tonic column: Weir on tokio)", r.scenario);
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

/// `h2load -c 1 -m 1000` latency, three runs alternating the stacks on a
/// fresh server each, one server thread: a single run's p50 moves by a
/// quarter between runs on a shared machine, so this row takes the median,
/// as the streaming rows do.
fn many_streams_latency_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const RUNS: usize = 3;
    let load = Load { connections: 1, streams: 1000, seconds: ctx.seconds };
    let mut p50: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut mean: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut p99: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut rps: HashMap<&str, Vec<f64>> = HashMap::new();
    for run in 0..RUNS {
        for stack in STACKS {
            let (_server, addr) = start_server(ctx, stack, "tokio", 1, &[])?;
            let url = format!("http://{addr}/helloworld.Greeter/SayHello");
            let log = ctx.work.join(format!("h2load-m1000-{stack}-{run}.log"));
            let o = h2load::run(&url, &ctx.body, load, &log)?;
            if o.failed > 0 || o.succeeded == 0 {
                return Err(format!(
                    "{stack}: h2load -m 1000: {} failed, {} succeeded",
                    o.failed, o.succeeded
                ));
            }
            eprintln!(
                "   -m 1000 run {run}, {stack}: {:.0} req/s p50 {} µs mean {} µs p99 {} µs",
                o.rps, o.p50_us, o.mean_us, o.p99_us
            );
            p50.entry(stack).or_default().push(o.p50_us as f64);
            mean.entry(stack).or_default().push(o.mean_us as f64);
            p99.entry(stack).or_default().push(o.p99_us as f64);
            rps.entry(stack).or_default().push(o.rps);
        }
    }
    let scenario = "unary, h2load -c 1 -m 1000 (many streams), 1 server thread, 3 runs alternating";
    Ok(vec![
        median_row(scenario, "req/s (median of 3)", &mut rps, Better::Higher)?,
        median_row(scenario, "p50 latency µs (median of 3)", &mut p50, Better::Lower)?,
        median_row(scenario, "mean latency µs (median of 3)", &mut mean, Better::Lower)?,
        median_row(scenario, "p99 latency µs (median of 3)", &mut p99, Better::Lower)?,
    ])
}

/// The cost of gRFC A66's metrics (`bench-server --metrics on`: weir-otel
/// into an OpenTelemetry SDK meter provider): `h2load -c 10 -m 10`, one
/// server thread, three runs alternating Weir without metrics, Weir with
/// them and tonic; medians. The overhead is the ratio of the two Weir rows.
fn metrics_overhead_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const RUNS: usize = 3;
    let load = Load { connections: 10, streams: 10, seconds: ctx.seconds };
    let configs: [(&str, &str, &[&str]); 4] = [
        ("off", "weir", &[]),
        ("on", "weir", &["--metrics", "on"]),
        ("native", "weir", &["--metrics", "native"]),
        ("tonic", "tonic", &[]),
    ];
    let mut rps: HashMap<&str, Vec<f64>> = HashMap::new();
    for run in 0..RUNS {
        for (name, stack, extra) in configs {
            let (_server, addr) = start_server(ctx, stack, "tokio", 1, extra)?;
            let url = format!("http://{addr}/helloworld.Greeter/SayHello");
            let log = ctx.work.join(format!("h2load-metrics-{name}-{run}.log"));
            let o = h2load::run(&url, &ctx.body, load, &log)?;
            if o.failed > 0 || o.succeeded == 0 {
                return Err(format!("{name}: h2load: {} failed, {} succeeded", o.failed, o.succeeded));
            }
            eprintln!("   metrics run {run}, {name}: {:.0} req/s", o.rps);
            rps.entry(name).or_default().push(o.rps);
        }
    }
    let mut median = |k: &str| -> Result<f64, String> {
        let v = rps.get_mut(k).ok_or("no figure")?;
        v.sort_by(f64::total_cmp);
        Ok(v[v.len() / 2])
    };
    let (off, on, native, tonic) = (median("off")?, median("on")?, median("native")?, median("tonic")?);
    let row = |what: &str, weir: f64| Row {
        scenario: format!("unary, h2load -c 10 -m 10, 1 server thread, 3 runs alternating, Weir {what}"),
        metric: "req/s (median of 3)".into(),
        weir,
        tonic,
        better: Better::Higher,
    };
    Ok(vec![
        row("without metrics", off),
        row("with gRFC A66 metrics through the OpenTelemetry SDK", on),
        row("with gRFC A66 metrics, NativeMetrics (no SDK)", native),
    ])
}

/// Weir's services on its own server against the same services mounted in
/// an axum `Router` (`Server::into_service`, served by axum and hyper):
/// unary `h2load -c 10 -m 10`, one server thread, three runs alternating
/// Weir, Weir in axum and tonic; medians.
fn axum_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const RUNS: usize = 3;
    let load = Load { connections: 10, streams: 10, seconds: ctx.seconds };
    let mut rps: HashMap<&str, Vec<f64>> = HashMap::new();
    for run in 0..RUNS {
        for stack in ["weir", "weir-axum", "tonic"] {
            let (_server, addr) = start_server(ctx, stack, "tokio", 1, &[])?;
            let url = format!("http://{addr}/helloworld.Greeter/SayHello");
            let log = ctx.work.join(format!("h2load-axum-{stack}-{run}.log"));
            let o = h2load::run(&url, &ctx.body, load, &log)?;
            if o.failed > 0 || o.succeeded == 0 {
                return Err(format!("{stack}: h2load: {} failed, {} succeeded", o.failed, o.succeeded));
            }
            eprintln!("   axum run {run}, {stack}: {:.0} req/s", o.rps);
            rps.entry(stack).or_default().push(o.rps);
        }
    }
    let mut median = |k: &str| -> Result<f64, String> {
        let v = rps.get_mut(k).ok_or("no figure")?;
        v.sort_by(f64::total_cmp);
        Ok(v[v.len() / 2])
    };
    let (own, axum, tonic) = (median("weir")?, median("weir-axum")?, median("tonic")?);
    let row = |what: &str, weir: f64| Row {
        scenario: format!("unary, h2load -c 10 -m 10, 1 server thread, 3 runs alternating, Weir {what}"),
        metric: "req/s (median of 3)".into(),
        weir,
        tonic,
        better: Better::Higher,
    };
    Ok(vec![row("on its own server", own), row("mounted in axum (Server::into_service)", axum)])
}

/// gRPC-Web unary over HTTP/1.1: `h2load --h1 -c 10` (keep-alive, one
/// request at a time per connection) posting a binary gRPC-Web SayHello to
/// `bench-server --grpc-web on` (Weir's `Server::grpc_web`, tonic with
/// tonic-web's `GrpcWebLayer`), one server thread, three runs alternating
/// the stacks on a fresh server each; medians. Every response must be a
/// 2xx, and one call per server is checked by hand down to its trailers
/// frame (`grpc-status: 0`), which h2load does not read. Besides req/s and
/// p50, the server's CPU time (`/proc/PID/stat`, from the end of h2load's
/// warm-up to its exit) per measured request: with one request in flight
/// per connection the request rate is mostly round trips through a
/// shared machine, the CPU time is what the stack itself spends.
fn grpc_web_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const RUNS: usize = 3;
    let load = Load { connections: 10, streams: 1, seconds: ctx.seconds };
    let body = ctx.work.join("say-hello-grpc-web.bin");
    std::fs::write(&body, GRPC_WEB_SAY_HELLO_BODY).map_err(|e| e.to_string())?;
    let mut p50: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut rps: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
    for run in 0..RUNS {
        for stack in STACKS {
            let (server, addr) = start_server(ctx, stack, "tokio", 1, &["--grpc-web", "on"])?;
            grpc_web::check_say_hello(&addr, GRPC_WEB_SAY_HELLO_BODY).map_err(|e| format!("{stack}: {e}"))?;
            let url = format!("http://{addr}/helloworld.Greeter/SayHello");
            let log = ctx.work.join(format!("h2load-grpc-web-{stack}-{run}.log"));
            let pid = server.0.id();
            let warmed_up = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                process::cpu_seconds(pid)
            });
            let o = h2load::run_grpc_web_h1(&url, &body, load, &log)?;
            let cpu_end = process::cpu_seconds(pid);
            let cpu_start = warmed_up.join().map_err(|_| "CPU sampler panicked")?;
            let cpu_us = match (cpu_start, cpu_end) {
                (Some(a), Some(b)) => (b - a) * 1e6 / o.succeeded.max(1) as f64,
                _ => f64::NAN,
            };
            if o.failed > 0 || o.succeeded == 0 || o.status_2xx != o.succeeded {
                return Err(format!(
                    "{stack}: h2load --h1: {} failed, {} succeeded, {} 2xx",
                    o.failed, o.succeeded, o.status_2xx
                ));
            }
            eprintln!(
                "   gRPC-Web run {run}, {stack}: {:.0} req/s p50 {} µs p99 {} µs, server CPU {cpu_us:.2} µs/req",
                o.rps, o.p50_us, o.p99_us
            );
            p50.entry(stack).or_default().push(o.p50_us as f64);
            rps.entry(stack).or_default().push(o.rps);
            cpu.entry(stack).or_default().push(cpu_us);
        }
    }
    for stack in STACKS {
        let spread = |v: &[f64]| {
            let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            (lo, hi, (hi - lo) / lo * 100.0)
        };
        let (lo, hi, pct) = spread(&rps[stack]);
        let (plo, phi, ppct) = spread(&p50[stack]);
        let (clo, chi, cpct) = spread(&cpu[stack]);
        eprintln!(
            "   gRPC-Web {stack}: req/s {lo:.0}..{hi:.0} (spread {pct:.1}%), p50 {plo:.0}..{phi:.0} µs \
             (spread {ppct:.1}%), server CPU {clo:.2}..{chi:.2} µs/req (spread {cpct:.1}%)"
        );
    }
    let scenario = "gRPC-Web unary over HTTP/1.1, h2load --h1 -c 10, 1 server thread, 3 runs alternating";
    Ok(vec![
        median_row(scenario, "req/s (median of 3)", &mut rps, Better::Higher)?,
        median_row(scenario, "p50 latency µs (median of 3)", &mut p50, Better::Lower)?,
        median_row(scenario, "server CPU µs per request (median of 3)", &mut cpu, Better::Lower)?,
    ])
}

/// A row of the medians of each stack's runs of one figure.
fn median_row(
    scenario: &str,
    metric: &str,
    runs: &mut HashMap<&str, Vec<f64>>,
    better: Better,
) -> Result<Row, String> {
    let mut median = |stack: &str| -> Result<f64, String> {
        let v = runs.get_mut(stack).filter(|v| !v.is_empty()).ok_or_else(|| format!("no {stack} figure"))?;
        v.sort_by(f64::total_cmp);
        Ok(v[v.len() / 2])
    };
    Ok(Row {
        scenario: scenario.to_owned(),
        metric: metric.to_owned(),
        weir: median("weir")?,
        tonic: median("tonic")?,
        better,
    })
}

/// The small-message streaming scenarios: (size, mode, concurrent calls).
fn small_scenarios() -> Vec<(u32, &'static str, u32)> {
    let mut v = Vec::new();
    for size in [64, 1024] {
        for mode in ["download", "upload", "echo"] {
            for calls in [1, 64] {
                v.push((size, mode, calls));
            }
        }
    }
    v
}

/// Streams of 64 B and 1 KiB messages (server streaming, client streaming,
/// bidi echo; 1 and 64 calls on one connection) on 1 and 2 server threads:
/// three runs alternating the stacks, the median of the three per figure.
fn small_message_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const RUNS: usize = 3;
    let seconds = ctx.seconds.min(2).to_string();
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let mut figures: HashMap<(&str, usize), Vec<f64>> = HashMap::new();
        for _ in 0..RUNS {
            for stack in STACKS {
                let (_server, addr) = start_server(ctx, stack, "tokio", threads, &[])?;
                for (i, (size, mode, calls)) in small_scenarios().into_iter().enumerate() {
                    let mut cmd = ctx.bin("bench-client");
                    cmd.args(["--impl", stack, "--addr", &addr, "--duration", &seconds, "--mode", mode])
                        .args(["--concurrency", &calls.to_string(), "--count", "20000"])
                        .args(["--size", &size.to_string()]);
                    let out = process::run(cmd, Duration::from_secs(120))?;
                    let m = parse_kv(out.lines().last().ok_or("bench-client printed nothing")?);
                    figures.entry((stack, i)).or_default().push(num(&m, "mbps")?);
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for (i, (size, mode, calls)) in small_scenarios().into_iter().enumerate() {
            let what = match mode {
                "download" => "server streaming",
                "upload" => "client streaming",
                _ => "bidi echo",
            };
            let row = Row {
                scenario: format!(
                    "{what} {size} B messages, {calls} call{} on 1 connection, {threads} server thread{}",
                    if calls == 1 { "" } else { "s at once" },
                    if threads == 1 { "" } else { "s" }
                ),
                metric: "MB/s (median of 3)".into(),
                weir: median(figures.get_mut(&("weir", i)).ok_or("no figure")?),
                tonic: median(figures.get_mut(&("tonic", i)).ok_or("no figure")?),
                better: Better::Higher,
            };
            eprintln!("   {}: {:.0} vs {:.0}", row.scenario, row.weir, row.tonic);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Instructions per streamed message through both stacks (server and
/// client in one process on one thread, `stream-instr`), counted by
/// callgrind: one run of N messages and one of 2N, the difference over N.
/// Empty when valgrind is not installed.
fn instruction_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    const N: u32 = 5000;
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("-- valgrind not found: no instruction counts");
        return Ok(Vec::new());
    }
    let total = |stack: &str, mode: &str, size: u32, count: u32| -> Result<f64, String> {
        let out = ctx.work.join("callgrind.out");
        let mut cmd = Command::new("valgrind");
        cmd.arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out.display()));
        cmd.arg(ctx.bins.join("stream-instr"));
        cmd.args([
            "--impl",
            stack,
            "--mode",
            mode,
            "--size",
            &size.to_string(),
            "--count",
            &count.to_string(),
        ]);
        process::run(cmd, Duration::from_secs(600))?;
        let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
        text.lines()
            .find_map(|l| l.strip_prefix("summary: "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| "no summary in callgrind's output".into())
    };
    let mut rows = Vec::new();
    for size in [64, 1024] {
        for mode in ["download", "upload", "echo"] {
            let mut per = [0.0; 2];
            for (i, stack) in STACKS.iter().enumerate() {
                per[i] = (total(stack, mode, size, 2 * N)? - total(stack, mode, size, N)?) / f64::from(N);
            }
            let row = Row {
                scenario: format!("{mode} {size} B messages, server and client in one thread (callgrind)"),
                metric: "instructions per message".into(),
                weir: per[0].round(),
                tonic: per[1].round(),
                better: Better::Lower,
            };
            eprintln!("   {}: {} vs {}", row.scenario, row.weir, row.tonic);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// 1 MiB streaming on one server thread with the same send-buffer setting on
/// both stacks: Weir's fixed loopback buffer given to tonic too, then kernel
/// autotuning for both (Weir's option off).
fn send_buffer_rows(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let cases = [
        (
            format!("both with SO_SNDBUF {LOOPBACK_SEND_BUFFER} (Weir's loopback default, given to tonic)"),
            LOOPBACK_SEND_BUFFER.to_string(),
        ),
        ("both with kernel autotuning (Weir's loopback send buffer off)".to_owned(), "0".to_owned()),
    ];
    let mut rows = Vec::new();
    for (label, bytes) in cases {
        let mut mbps = Vec::new();
        for stack in STACKS {
            let (_server, addr) = start_server(ctx, stack, "tokio", 1, &["--send-buffer", &bytes])?;
            mbps.push(stream_1m(ctx, stack, &addr)?);
        }
        rows.push(Row {
            scenario: format!("server streaming 1 MiB messages, 1 connection, 1 server thread, {label}"),
            metric: "MB/s".into(),
            weir: mbps[0],
            tonic: mbps[1],
            better: Better::Higher,
        });
    }
    Ok(rows)
}

fn memory(ctx: &Ctx, stack: &str) -> Result<HashMap<String, String>, String> {
    let mut cmd = ctx.bin("mem-probe");
    cmd.args(["--impl", stack, "--conns", "200", "--streams", "1000"]);
    cmd.arg("--client").arg(ctx.bins.join("bench-client"));
    let out = process::run(cmd, Duration::from_secs(300))?;
    let m = parse_kv(out.lines().last().ok_or("mem-probe printed nothing")?);
    eprintln!("-- memory {stack}: {m:?}");
    Ok(m)
}

fn rows_for(threads: u32, w: &Figures, t: &Figures) -> Vec<Row> {
    let scen = |s: &str| format!("{s}, {threads} server thread{}", if threads == 1 { "" } else { "s" });
    let mut rows = Vec::new();
    let mut push = |scenario: String, metric: &str, key: &str, better: Better| {
        if let (Some(&weir), Some(&tonic)) = (w.get(key), t.get(key)) {
            rows.push(Row { scenario, metric: metric.into(), weir, tonic, better });
        }
    };
    for (i, (label, _)) in h2load_scenarios(0).into_iter().enumerate() {
        push(scen(label), "req/s", ["h2load0", "h2load1", "h2load2"][i], Better::Higher);
        push(scen(label), "p50 latency µs", ["h2load0_p50", "h2load1_p50", "h2load2_p50"][i], Better::Lower);
        push(scen(label), "p99 latency µs", ["h2load0_p99", "h2load1_p99", "h2load2_p99"][i], Better::Lower);
        push(
            scen(label),
            "mean latency µs",
            ["h2load0_mean", "h2load1_mean", "h2load2_mean"][i],
            Better::Lower,
        );
    }
    push(scen("unary, own client, 64 in flight, 1 connection"), "calls/s", "own_unary", Better::Higher);
    push(
        scen("unary, own client, 64 in flight, 1 connection"),
        "p99 latency µs",
        "own_unary_p99",
        Better::Lower,
    );
    push(scen("server streaming 1 KiB messages, 1 connection"), "MB/s", "stream_1k", Better::Higher);
    push(scen("server streaming 1 MiB messages, 1 connection"), "MB/s", "stream_1m", Better::Higher);
    rows
}

fn memory_rows(w: &HashMap<String, String>, t: &HashMap<String, String>) -> Result<Vec<Row>, String> {
    let row = |scenario: &str, metric: &str, key: &str| -> Result<Row, String> {
        Ok(Row {
            scenario: scenario.into(),
            metric: metric.into(),
            weir: num(w, key)?,
            tonic: num(t, key)?,
            better: Better::Lower,
        })
    };
    Ok(vec![
        row("200 idle connections, 1 server thread", "heap bytes per idle connection", "heap_per_idle_conn")?,
        row("1000 open streams on 1 connection", "heap bytes per open stream", "heap_per_open_stream")?,
        row("whole memory probe", "peak heap bytes", "heap_peak")?,
        row("whole memory probe", "peak RSS KiB", "peak_rss_kib")?,
    ])
}

fn capture(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "- CPU: {cpu}, {cores} cores available\n- {}\n- {}\n- commit {}, {}\n",
        capture("rustc", &["-V"]),
        capture("h2load", &["--version"]),
        capture("git", &["rev-parse", "--short", "HEAD"]),
        capture("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    )
}

fn write_report(path: &Path, seconds: u32, rows: &[Row]) -> Result<(), String> {
    let text = format!(
        "# Benchmarks: Weir vs tonic\n\n\
Generated by `benches/run.sh` (this file is its output; do not edit by hand).\n\n\
## Method\n\n\
- Both servers are built from the same `.proto` files ({protos}) with the same \
service logic (`benches/src/services.rs`) and run as separate processes \
(`bench-server --impl weir|tonic --threads N`, tokio multi-thread runtime with N workers), \
one after the other, in the same run, on the same machine; loopback TCP, h2c.\n\
- Neutral client: h2load (nghttp2) sends `helloworld.Greeter/SayHello` \
(`name: \"world\"`) for {seconds} s after 1 s of warm-up; latency percentiles come \
from its per-request `--log-file`. Every request must succeed.\n\
- Own clients: each stack's generated client (`bench-client --impl …`, one tokio \
thread) for unary calls and for server streaming (`bench.Bench/Download`, \
`bytes` fields as `Bytes` in both stacks).\n\
- Socket options are each stack's defaults: both set TCP_NODELAY; Weir fixes \
`SO_SNDBUF` at {send_buffer} bytes (Linux doubles it) on loopback connections, tonic leaves \
the kernel's autotuning. Two extra 1 MiB streaming rows give both stacks the same \
setting (`bench-server --send-buffer BYTES`).\n\
- Many streams: `h2load -c 1 -m 1000` also runs three times alternating the \
stacks (a fresh server each time, one thread); its rows give the median of the \
three, because one run's p50 moves by a quarter on a shared machine. h2load keeps \
1,000 calls in flight, so the mean latency is 1,000 over the request rate (Little's \
law) whatever the server does; a server can bring its p50 below that mean only by \
making other calls wait longer (tonic's p99 is far above its mean for that reason). \
Read the p50 row with the mean and p99 rows.\n\
- Metrics: `h2load -c 10 -m 10` runs three times alternating Weir without metrics, \
Weir with gRFC A66's metrics through the OpenTelemetry SDK (`bench-server --metrics on`: \
weir-otel's `GrpcMetrics` into an SDK meter provider read by the Prometheus exporter), \
Weir with weir-otel's SDK-free `NativeMetrics` (`--metrics native`) and tonic; the ratio \
of a metrics row to the row without is what those metrics cost.\n\
- gRPC-Web: `h2load --h1 -c 10 -m 1` posts the same SayHello as a binary gRPC-Web \
body (`content-type: application/grpc-web+proto`) over HTTP/1.1 keep-alive connections \
(one request at a time on each: HTTP/1.1 has no multiplexing) to `bench-server --grpc-web on` \
(Weir's `Server::grpc_web(GrpcWeb::new().allow_any_origin())`; tonic with tonic-web's \
`GrpcWebLayer` and `accept_http1(true)`), one server thread, three runs alternating the \
stacks; medians. Every response must be a 2xx, and before each run one call is checked \
by hand down to its trailers frame (`grpc-status: 0`). With one request in flight per \
connection the request rate is mostly round trips through a shared machine, so the rows \
also give the server's CPU time (user + system, `/proc/PID/stat`, from the end of the \
warm-up to h2load's exit) per request.\n\
- Small messages: each stack's own client streams 64 B and 1 KiB messages \
(`bench.Bench/Download`, `Upload` and `Hold` for server streaming, client \
streaming and bidi echo; 20,000 per call, calls one after another) with 1 and \
with 64 calls at once on one connection, three runs alternating the stacks; \
the median of the three is shown.\n\
- Instructions per message: `stream-instr` runs a server and a client in one \
process on one thread (both stacks' generated code, loopback TCP) under \
callgrind, once with 5,000 and once with 10,000 messages; the difference over \
5,000 is what one message costs both sides, free of start-up and of timing noise \
(`benches/instr.sh` prints the same figures).\n\
- Memory: `mem-probe` serves in-process under a counting global allocator on one \
thread while a child client holds 200 idle connections (one call each), then \
1000 open bidirectional streams on one connection; heap growth is divided by the \
count. Peak RSS is the probe process's VmHWM.\n\
- The ratio column is Weir / tonic: above 1 is better for throughput, below 1 is \
better for latency and memory. Runs share the machine's cores with the load \
generator, so treat ratios (same run) rather than absolute figures as the result.\n\n\
## Commands\n\n\
```sh\n\
benches/run.sh                 # builds, runs everything, rewrites BENCHMARKS.md\n\
cargo bench -p weir-core       # criterion: HPACK (vs h2), connection, gRPC cores\n\
cargo bench -p weir-benches    # criterion: frame codec, flow control, message codec\n\
```\n\n\
## Machine\n\n{machine}\n\
## Results\n\n{table}",
        protos = "`examples/proto/helloworld.proto`, `benches/proto/bench.proto`",
        send_buffer = LOOPBACK_SEND_BUFFER,
        machine = machine(),
        table = table(rows),
    );
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> Result<(), String> {
    let args = Args::from_env();
    let seconds: u32 = args.num("seconds", 5);
    let out = PathBuf::from(args.get("out", "BENCHMARKS.md"));
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bins = exe.parent().ok_or("no exe dir")?.to_path_buf();
    let work = bins.join("bench-work");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let body = work.join("say-hello.bin");
    std::fs::write(&body, SAY_HELLO_BODY).map_err(|e| e.to_string())?;
    let ctx = Ctx { bins, work, body, seconds };

    let only = match args.get("only", "") {
        "" => None,
        "grpc-web" => Some(grpc_web_rows(&ctx)?),
        "axum" => Some(axum_rows(&ctx)?),
        "small" => Some(small_message_rows(&ctx)?),
        "latency" => Some(many_streams_latency_rows(&ctx)?),
        other => return Err(format!("unknown --only {other} (grpc-web|axum|small|latency)")),
    };
    if let Some(rows) = only {
        println!("{}", table(&rows));
        return Ok(());
    }

    let mut rows = Vec::new();
    let mut on_tokio = Vec::new();
    for threads in [1, 2] {
        let mut figures = Vec::new();
        for stack in STACKS {
            figures.push(measure_server(&ctx, stack, "tokio", threads, true)?);
        }
        rows.extend(rows_for(threads, &figures[0], &figures[1]));
        on_tokio.push((threads, figures));
    }
    rows.extend(compio_rows(&ctx, &on_tokio)?);
    rows.extend(many_streams_latency_rows(&ctx)?);
    rows.extend(metrics_overhead_rows(&ctx)?);
    rows.extend(grpc_web_rows(&ctx)?);
    rows.extend(axum_rows(&ctx)?);
    rows.extend(small_message_rows(&ctx)?);
    rows.extend(instruction_rows(&ctx)?);
    rows.extend(send_buffer_rows(&ctx)?);
    // Weir on smol against tonic on tokio, h2load only (tonic has no smol server).
    let smol = measure_server(&ctx, "weir", "smol", 1, false)?;
    let tonic = measure_server(&ctx, "tonic", "tokio", 1, false)?;
    for mut r in rows_for(1, &smol, &tonic) {
        r.scenario = format!("{} (Weir on smol)", r.scenario);
        rows.push(r);
    }
    let mem: Vec<_> = STACKS.iter().map(|s| memory(&ctx, s)).collect::<Result<_, _>>()?;
    rows.extend(memory_rows(&mem[0], &mem[1])?);
    write_report(&out, seconds, &rows)?;
    println!("{}", table(&rows));
    println!("wrote {}", out.display());
    Ok(())
}
