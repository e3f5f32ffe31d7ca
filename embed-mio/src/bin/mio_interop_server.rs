//! `mio-interop-server --port N [--use_tls=true|false]`: grpc.testing.TestService
//! on 127.0.0.1 from one mio event loop thread (the interop test certificate
//! with TLS). Prints `interop server listening on 127.0.0.1:N` once bound;
//! SIGTERM or SIGINT stops it gracefully.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use weir_embed_mio::{EventLoop, Options, TEST_CERT, TEST_KEY, tls_config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut port, mut tls) = (50051u16, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (arg.clone(), args.next().ok_or(format!("{arg} needs a value"))?),
        };
        match name.as_str() {
            "--port" => port = value.parse()?,
            "--use_tls" => tls = value.parse()?,
            _ => return Err(format!("unknown flag {name}").into()),
        }
    }
    let mut options = Options::default();
    if tls {
        options.tls = Some(Arc::new(tls_config(TEST_CERT, TEST_KEY)?));
    }
    let mut server = EventLoop::bind(([127, 0, 0, 1], port).into(), options)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    server.stop_on(stop);
    println!("interop server listening on {}", server.local_addr()?);
    server.run()?;
    Ok(())
}
