//! Retries per the gRPC retry design (gRFC A6): the per-method policies of
//! a service config, retry throttling, server pushback, transparent retry
//! of calls the server never saw, and the attempt loop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use weir_core::grpc::{Code, Metadata, Status};

use super::backoff::random_unit;
use crate::runtime::BoxFuture;

/// Most attempts a policy may ask for (gRFC A6: larger values count as 5).
const MAX_ATTEMPTS_CAP: u32 = 5;

/// Header telling the server how many attempts preceded this one.
pub(crate) const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";
/// Trailer through which a server delays or forbids the next retry.
const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The status of a call that never reached its connection's driver, or
/// waited there for a stream, when the connection ended.
pub(crate) const NOT_SENT: &str =
    "the call was not processed by the server: the connection closed before the call was sent";
/// How weir-core's status begins for a call the server cannot have
/// processed (refused, above GOAWAY's last stream id, never written).
const UNPROCESSED: &str = weir_core::grpc::UNPROCESSED;

/// The service config's `retryPolicy` (gRFC A6): failed attempts whose
/// status is retryable are tried again, after an exponential backoff with
/// full jitter, until `max_attempts` (at most 5) were made.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (2 to 5).
    pub max_attempts: u32,
    /// Upper bound of the first backoff (each delay is random below its bound).
    pub initial_backoff: Duration,
    /// Largest backoff bound.
    pub max_backoff: Duration,
    /// Growth of the bound per retry.
    pub backoff_multiplier: f64,
    /// Statuses worth another attempt.
    pub retryable_status_codes: Vec<Code>,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff 100 ms doubling to 1 s, on UNAVAILABLE.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            backoff_multiplier: 2.0,
            retryable_status_codes: vec![Code::Unavailable],
        }
    }
}

impl RetryPolicy {
    fn attempts(&self) -> u32 {
        self.max_attempts.min(MAX_ATTEMPTS_CAP)
    }

    /// The delay before retry number `n` (0 for the first retry).
    fn backoff(&self, n: u32) -> Duration {
        let exp = i32::try_from(n).unwrap_or(i32::MAX);
        let bound = self.initial_backoff.as_secs_f64() * self.backoff_multiplier.max(1.0).powi(exp);
        let bound = if bound.is_finite() { bound.min(self.max_backoff.as_secs_f64()) } else { 0.0 };
        Duration::from_secs_f64(bound.max(0.0) * random_unit())
    }
}

/// The service config's `hedgingPolicy` (gRFC A6): the call is sent again
/// every `hedging_delay` (and at once after a non-fatal failure) until
/// `max_attempts` copies were sent; the first answer that is a success or a
/// fatal status wins and the others are cancelled. For unary and
/// server-streaming calls; other kinds are sent once.
#[derive(Clone, Debug, PartialEq)]
pub struct HedgingPolicy {
    /// Copies in all, the first included (2 to 5).
    pub max_attempts: u32,
    /// Time between copies.
    pub hedging_delay: Duration,
    /// Statuses after which the other copies still count.
    pub non_fatal_status_codes: Vec<Code>,
}

impl HedgingPolicy {
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.min(MAX_ATTEMPTS_CAP)
    }
}

/// What a channel does when a call fails.
#[derive(Clone, Debug, PartialEq)]
pub enum CallPolicy {
    /// Retries after a failure.
    Retry(RetryPolicy),
    /// Sends copies in parallel.
    Hedging(HedgingPolicy),
}

/// The service config's `retryThrottling`: a token bucket shared by the
/// channel's calls. Each failed attempt takes a token, each success gives
/// back `token_ratio`; retries and hedges stop while at most half the
/// tokens are left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryThrottling {
    /// The bucket's size (1 to 1000).
    pub max_tokens: u32,
    /// Tokens regained per successful call (three decimals are kept).
    pub token_ratio: f64,
}

/// The live token bucket, in thousandths of a token.
#[derive(Debug)]
pub(crate) struct Throttle {
    max: u64,
    ratio: u64,
    tokens: Mutex<u64>,
}

impl Throttle {
    pub fn new(cfg: RetryThrottling) -> Self {
        let max = u64::from(cfg.max_tokens.clamp(1, 1000)) * 1000;
        let ratio = (cfg.token_ratio.max(0.0) * 1000.0).round().min(max as f64) as u64;
        Throttle { max, ratio, tokens: Mutex::new(max) }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, u64> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A failed attempt; returns whether retries are still allowed.
    pub fn failure(&self) -> bool {
        let mut t = self.tokens();
        *t = t.saturating_sub(1000);
        *t > self.max / 2
    }

    /// A successful call.
    pub fn success(&self) {
        let mut t = self.tokens();
        *t = (*t + self.ratio).min(self.max);
    }

    /// True while retries are allowed.
    pub fn allows(&self) -> bool {
        *self.tokens() > self.max / 2
    }
}

/// What applies to the calls of one method (a service config's
/// `methodConfig` entry, or the builder's per-method settings).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MethodSettings {
    pub policy: Option<CallPolicy>,
    /// The longest a call may take (the application's deadline wins when earlier).
    pub timeout: Option<Duration>,
    /// Largest request message, below the channel's own limit.
    pub max_request: Option<usize>,
    /// Largest response message, below the channel's own limit.
    pub max_response: Option<usize>,
    /// Calls wait for a ready connection (unless the call says otherwise).
    pub wait_for_ready: Option<bool>,
}

/// Settings by method, as a service config's `methodConfig` names them:
/// `/package.Service/Method`, a whole `package.Service`, or every method.
/// The most specific entry applies whole (gRFC A2).
#[derive(Clone, Debug, Default)]
pub(crate) struct MethodPolicies {
    pub default: MethodSettings,
    pub by_name: HashMap<String, MethodSettings>,
}

impl MethodPolicies {
    /// A service config's `methodConfig` entries, by name.
    pub fn from_config(config: &super::ServiceConfig) -> Self {
        let mut out = MethodPolicies::default();
        for mc in &config.method_configs {
            let settings = MethodSettings {
                policy: mc.policy.clone(),
                timeout: mc.timeout,
                max_request: mc.max_request_message_bytes,
                max_response: mc.max_response_message_bytes,
                wait_for_ready: mc.wait_for_ready,
            };
            for name in &mc.names {
                let key = match (name.service.as_str(), name.method.as_str()) {
                    ("", _) => {
                        out.default = settings.clone();
                        continue;
                    }
                    (service, "") => service.to_owned(),
                    (service, method) => format!("/{service}/{method}"),
                };
                out.by_name.insert(key, settings.clone());
            }
        }
        out
    }

    /// The settings of the method at `path` (`/service/method`).
    pub fn lookup(&self, path: &[u8]) -> &MethodSettings {
        if self.by_name.is_empty() {
            return &self.default;
        }
        let path = std::str::from_utf8(path).unwrap_or_default();
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        self.by_name.get(path).or_else(|| self.by_name.get(service)).unwrap_or(&self.default)
    }
}

/// Normalises a method name for [`MethodPolicies`]: `pkg.Svc/Method` and
/// `/pkg.Svc/Method` name a method, `pkg.Svc` a service.
pub(crate) fn method_key(name: &str) -> String {
    let trimmed = name.trim_matches('/');
    if trimmed.contains('/') { format!("/{trimmed}") } else { trimmed.to_owned() }
}

/// What the server said about the next attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// Nothing: use the policy's backoff.
    None,
    /// Wait exactly this long.
    Delay(Duration),
    /// Do not retry.
    Stop,
}

pub(crate) fn pushback(status: &Status) -> Pushback {
    match status.metadata.get_str(PUSHBACK) {
        None => Pushback::None,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) => Pushback::Delay(Duration::from_millis(ms)),
            Err(_) => Pushback::Stop,
        },
    }
}

/// True for a failure the server never processed: safe to send again
/// whatever the policy (transparent retry).
fn unprocessed(status: &Status) -> bool {
    status.code == Code::Unavailable && status.message.starts_with(UNPROCESSED)
}

/// The request metadata of an attempt after `previous` others.
pub(crate) fn attempt_metadata(md: &Metadata, previous: u32) -> Metadata {
    let mut md = md.clone();
    if previous > 0 {
        let _ = md.append(PREVIOUS_ATTEMPTS, &previous.to_string());
    }
    md
}

/// Time, as the retry loop needs it: the channel's runtime.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep_until(&self, at: Instant) -> BoxFuture<'static, ()>;
}

/// What one attempt gave.
pub(crate) struct Attempt<T> {
    /// What the caller gets if this attempt is the last.
    pub result: Result<T, Status>,
    /// Set when the attempt failed before it was committed (no response
    /// headers): the status a retry decision looks at.
    pub failure: Option<Status>,
}

impl<T> Attempt<T> {
    /// A failure nothing was received for: retryable in principle.
    pub fn uncommitted(status: Status) -> Self {
        Attempt { result: Err(status.clone()), failure: Some(status) }
    }
}

/// The retry context of one call.
pub(crate) struct RetryCtx<'a> {
    pub clock: &'a dyn Clock,
    pub policy: Option<&'a RetryPolicy>,
    pub throttle: Option<&'a Throttle>,
    pub deadline: Option<Instant>,
}

/// Runs `attempt` (given the number of attempts before it) until it
/// succeeds, is committed, or may not be retried: once transparently when
/// the server never saw it, and as the retry policy allows.
pub(crate) async fn with_retries<T, F, Fut>(ctx: RetryCtx<'_>, mut attempt: F) -> Result<T, Status>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut previous = 0u32;
    let mut retries = 0u32;
    let mut transparent_left = true;
    loop {
        let outcome = attempt(previous).await;
        let Some(status) = outcome.failure else {
            if outcome.result.is_ok()
                && let Some(t) = ctx.throttle
            {
                t.success();
            }
            return outcome.result;
        };
        if transparent_left && unprocessed(&status) {
            transparent_left = false;
            continue;
        }
        let Some(policy) = ctx.policy else { return outcome.result };
        if !policy.retryable_status_codes.contains(&status.code) {
            return outcome.result;
        }
        if let Some(t) = ctx.throttle
            && !t.failure()
        {
            return outcome.result;
        }
        previous += 1;
        if previous >= policy.attempts() {
            return outcome.result;
        }
        let delay = match pushback(&status) {
            Pushback::Stop => return outcome.result,
            Pushback::Delay(d) => {
                retries = 0;
                d
            }
            Pushback::None => {
                retries += 1;
                policy.backoff(retries - 1)
            }
        };
        let at = ctx.clock.now() + delay;
        if ctx.deadline.is_some_and(|d| at >= d) {
            return outcome.result;
        }
        ctx.clock.sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_stops_retries_at_half_and_recovers_by_ratio() {
        let t = Throttle::new(RetryThrottling { max_tokens: 4, token_ratio: 0.5 });
        assert!(t.allows());
        assert!(t.failure(), "3 left > 2");
        assert!(!t.failure(), "2 left: at the threshold");
        t.success();
        assert!(t.allows(), "2.5 left");
        for _ in 0..10 {
            t.success();
        }
        assert_eq!(*t.tokens(), 4000, "capped at max_tokens");
    }

    #[test]
    fn pushback_values() {
        let mut s = Status::new(Code::Unavailable, "x");
        assert_eq!(pushback(&s), Pushback::None);
        s.metadata.append(PUSHBACK, "250").unwrap();
        assert_eq!(pushback(&s), Pushback::Delay(Duration::from_millis(250)));
        let mut s = Status::new(Code::Unavailable, "x");
        s.metadata.append(PUSHBACK, "-1").unwrap();
        assert_eq!(pushback(&s), Pushback::Stop);
    }

    #[test]
    fn backoff_is_jittered_below_the_bound() {
        let p = RetryPolicy { initial_backoff: Duration::from_millis(100), ..RetryPolicy::default() };
        for n in 0..8 {
            let bound = (0.1 * 2f64.powi(n as i32)).min(1.0);
            assert!(p.backoff(n).as_secs_f64() <= bound, "retry {n}");
        }
    }

    #[test]
    fn method_lookup_prefers_method_then_service_then_default() {
        let policy = |n| CallPolicy::Retry(RetryPolicy { max_attempts: n, ..RetryPolicy::default() });
        let settings = |n| MethodSettings { policy: Some(policy(n)), ..MethodSettings::default() };
        let mut p = MethodPolicies { default: settings(2), ..Default::default() };
        p.by_name.insert(method_key("pkg.Svc"), settings(3));
        p.by_name.insert(method_key("pkg.Svc/Get"), settings(4));
        assert_eq!(p.lookup(b"/pkg.Svc/Get").policy, Some(policy(4)));
        assert_eq!(p.lookup(b"/pkg.Svc/Put").policy, Some(policy(3)));
        assert_eq!(p.lookup(b"/other.Svc/Get").policy, Some(policy(2)));
    }

    #[test]
    fn a_service_config_fills_the_method_table() {
        let config = super::super::ServiceConfig::from_json(
            r#"{"methodConfig": [
              {"name": [{"service": "pkg.Svc", "method": "Get"}, {"service": "pkg.Other"}], "timeout": "1s",
               "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
                               "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}},
              {"name": [{}], "maxResponseMessageBytes": 10}
            ]}"#,
        )
        .unwrap();
        let p = MethodPolicies::from_config(&config);
        let get = p.lookup(b"/pkg.Svc/Get");
        assert_eq!(get.timeout, Some(Duration::from_secs(1)));
        assert!(matches!(&get.policy, Some(CallPolicy::Retry(r)) if r.max_attempts == 4));
        assert_eq!(get.max_response, None, "the method's entry applies whole");
        assert_eq!(p.lookup(b"/pkg.Other/Any").timeout, Some(Duration::from_secs(1)), "a whole service");
        let other = p.lookup(b"/pkg.Svc/Put");
        assert_eq!(
            (other.timeout, other.max_response, &other.policy),
            (None, Some(10), &None),
            "the default"
        );
    }

    #[test]
    fn only_unprocessed_failures_are_transparent() {
        let refused = format!("{UNPROCESSED}: stream refused");
        assert!(unprocessed(&Status::new(Code::Unavailable, refused.clone())));
        assert!(unprocessed(&Status::new(Code::Unavailable, NOT_SENT)));
        assert!(!unprocessed(&Status::new(Code::Unavailable, "connection lost")));
        assert!(!unprocessed(&Status::new(Code::Internal, refused)));
    }
}
