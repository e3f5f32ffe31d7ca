//! A deterministic in-memory harness: two endpoints wired back to back, bytes
//! split at seeded random points (so every layer sees partial frames), and
//! simulated time that jumps to the next deadline. No sockets, no sleeps.

use std::time::{Duration, Instant};

use crate::conn::{Config, Connection, Role};

/// What the harness drives: any core ([`crate::Endpoint`]).
pub use crate::endpoint::Endpoint;

/// SplitMix64: a tiny seeded generator, enough to choose split points.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A client and a server endpoint connected in memory.
pub struct Pair<C: Endpoint = Connection, S: Endpoint = Connection> {
    /// The client side.
    pub client: C,
    /// The server side.
    pub server: S,
    /// Simulated time.
    pub now: Instant,
    /// Split writes into random pieces before delivery.
    pub split: bool,
    /// One-way delay added to every delivery (time advances by it).
    pub latency: Duration,
    rng: Rng,
    /// Bytes delivered to the server, total.
    pub to_server_total: usize,
    /// Bytes delivered to the client, total.
    pub to_client_total: usize,
    buf: Vec<u8>,
}

impl Pair<Connection> {
    /// Two HTTP/2 connections with the given configurations.
    pub fn new(client: Config, server: Config, seed: u64) -> Self {
        let now = Instant::now();
        Pair::from_endpoints(
            Connection::new(Role::Client, client, now),
            Connection::new(Role::Server, server, now),
            now,
            seed,
        )
    }
}

impl<C: Endpoint, S: Endpoint> Pair<C, S> {
    /// Wires two endpoints created at `now`.
    pub fn from_endpoints(client: C, server: S, now: Instant, seed: u64) -> Self {
        Pair {
            client,
            server,
            now,
            split: true,
            latency: Duration::ZERO,
            rng: Rng::new(seed),
            to_server_total: 0,
            to_client_total: 0,
            buf: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything to send, or
    /// `max_rounds` is reached. Returns the bytes moved.
    pub fn drive_rounds(&mut self, max_rounds: usize) -> usize {
        let mut moved = 0;
        for _ in 0..max_rounds {
            let a = self.transfer(true);
            let b = self.transfer(false);
            moved += a + b;
            if a + b == 0 {
                break;
            }
        }
        moved
    }

    /// [`Pair::drive_rounds`] with a generous bound.
    pub fn drive(&mut self) -> usize {
        self.drive_rounds(100_000)
    }

    /// One direction: collect what one side sends and feed it to the other.
    pub fn transfer(&mut self, client_to_server: bool) -> usize {
        self.buf.clear();
        let now = self.now;
        let mut buf = std::mem::take(&mut self.buf);
        // Everything sendable now, as a socket that accepts all writes would take it.
        let mut n = 0;
        for _ in 0..1024 {
            let more = if client_to_server {
                self.client.poll_transmit(now, &mut buf)
            } else {
                self.server.poll_transmit(now, &mut buf)
            };
            if more == 0 {
                break;
            }
            n += more;
        }
        if n == 0 {
            self.buf = buf;
            return 0;
        }
        self.now += self.latency;
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let cut = if self.split { 1 + self.rng.below(rest.len()) } else { rest.len() };
            let (piece, tail) = rest.split_at(cut);
            if client_to_server {
                self.server.handle_input(self.now, piece);
            } else {
                self.client.handle_input(self.now, piece);
            }
            rest = tail;
        }
        if client_to_server {
            self.to_server_total += n;
        } else {
            self.to_client_total += n;
        }
        self.buf = buf;
        n
    }

    /// Jumps simulated time to the earliest deadline of either side and runs
    /// it; false when neither side has a deadline.
    pub fn advance_to_next_timeout(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min();
        let Some(t) = next else { return false };
        if t > self.now {
            self.now = t;
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        true
    }

    /// Advances simulated time by `d`, running any expired timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }
}

impl Pair<crate::grpc::Client, crate::grpc::Server> {
    /// A gRPC client and server connected in memory.
    pub fn grpc(client: crate::grpc::ClientConfig, server: crate::grpc::ServerConfig, seed: u64) -> Self {
        let now = Instant::now();
        Pair::from_endpoints(
            crate::grpc::Client::new(client, now),
            crate::grpc::Server::new(server, now),
            now,
            seed,
        )
    }
}
