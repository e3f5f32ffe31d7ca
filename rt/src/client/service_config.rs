//! The service config in its JSON form (gRFC A2, `grpc/service_config/
//! service_config.proto`), parsed into typed settings: the load-balancing
//! policy, per-method settings (`methodConfig`: name matching, `timeout`,
//! `waitForReady`, message size limits, `retryPolicy` or `hedgingPolicy`),
//! `retryThrottling` and `healthCheckConfig`. Balancers in
//! `loadBalancingConfig`: `pick_first`, `round_robin`,
//! `least_request_experimental` (gRFC A48), `weighted_round_robin` (over the
//! resolver's address weights), `ring_hash_experimental` (gRFC A42, keyed by
//! gRFC A76's `requestHashHeader`), and `outlier_detection_experimental`
//! (gRFC A50) around one of them.
//!
//! Errors name the field that is wrong (`methodConfig[1].retryPolicy.
//! maxAttempts: ...`); a config with an error is refused whole, as gRPC-Go
//! does.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};
use weir_core::grpc::Code;

use super::outlier::{FailurePercentageEjection, OutlierDetection, SuccessRateEjection};
use super::retry::{CallPolicy, HedgingPolicy, RetryPolicy, RetryThrottling};

/// A parsed service config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceConfig {
    /// The first policy of `loadBalancingConfig` that Weir implements (or
    /// the older `loadBalancingPolicy`); `None`: the channel's own.
    pub load_balancing: Option<LbPolicy>,
    /// `methodConfig`, in order.
    pub method_configs: Vec<MethodConfig>,
    /// `retryThrottling`.
    pub retry_throttling: Option<RetryThrottling>,
    /// `healthCheckConfig.serviceName`: client-side health checking of this
    /// service on every connection.
    pub health_check_service: Option<String>,
    /// `outlier_detection_experimental` (gRFC A50) around the balancer.
    pub outlier_detection: Option<OutlierDetection>,
}

/// A load-balancing policy Weir implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LbPolicy {
    /// `pick_first`.
    PickFirst,
    /// `round_robin`.
    RoundRobin,
    /// `least_request_experimental` (gRFC A48) with its `choiceCount`.
    LeastRequest {
        /// Random candidates compared per call (2..=10).
        choice_count: u32,
    },
    /// `weighted_round_robin`, over the resolver's address weights.
    WeightedRoundRobin,
    /// `ring_hash_experimental` (gRFC A42).
    RingHash {
        /// `minRingSize` (1024).
        min_ring_size: u64,
        /// `maxRingSize` (4096; larger is capped at 4096).
        max_ring_size: u64,
        /// `requestHashHeader` (gRFC A76): the header whose value is the
        /// request's key; without it, each call gets a random key.
        request_hash_header: Option<String>,
    },
}

impl LbPolicy {
    /// The balancer this policy names.
    pub fn balancer(&self) -> std::sync::Arc<dyn super::Balancer> {
        use super::balancer::*;
        match self {
            LbPolicy::PickFirst => std::sync::Arc::new(PickFirst),
            LbPolicy::RoundRobin => std::sync::Arc::new(RoundRobin::default()),
            LbPolicy::LeastRequest { choice_count } => std::sync::Arc::new(LeastRequest::new(*choice_count)),
            LbPolicy::WeightedRoundRobin => std::sync::Arc::new(WeightedRoundRobin::default()),
            LbPolicy::RingHash { min_ring_size, max_ring_size, request_hash_header } => std::sync::Arc::new(
                RingHash::new(*min_ring_size, *max_ring_size, request_hash_header.as_deref()),
            ),
        }
    }
}

/// What a `methodConfig` entry applies to one or more methods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MethodConfig {
    /// The names it applies to.
    pub names: Vec<MethodName>,
    /// Calls wait for a ready connection instead of failing at once.
    pub wait_for_ready: Option<bool>,
    /// The longest a call may take; the application's deadline wins when
    /// it is earlier.
    pub timeout: Option<Duration>,
    /// Largest request message (the channel's limit wins when smaller).
    pub max_request_message_bytes: Option<usize>,
    /// Largest response message (the channel's limit wins when smaller).
    pub max_response_message_bytes: Option<usize>,
    /// `retryPolicy` or `hedgingPolicy`.
    pub policy: Option<CallPolicy>,
}

/// One `name` of a `methodConfig`: a method (`service` and `method`), a
/// whole service (`method` empty), or every method (both empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MethodName {
    /// `package.Service`.
    pub service: String,
    /// `Method`.
    pub method: String,
}

/// Why a service config was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfigError {
    /// Where in the JSON (`methodConfig[0].timeout`), empty for the whole.
    pub field: String,
    /// What is wrong there.
    pub reason: String,
}

impl std::fmt::Display for ServiceConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field.is_empty() {
            true => write!(f, "invalid service config: {}", self.reason),
            false => write!(f, "invalid service config: {}: {}", self.field, self.reason),
        }
    }
}

impl std::error::Error for ServiceConfigError {}

type Parsed<T> = Result<T, ServiceConfigError>;

fn err<T>(field: &str, reason: impl Into<String>) -> Parsed<T> {
    Err(ServiceConfigError { field: field.to_owned(), reason: reason.into() })
}

impl ServiceConfig {
    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Parsed<Self> {
        let value: Value = serde_json::from_str(json).or_else(|e| err("", format!("not JSON: {e}")))?;
        let Value::Object(top) = value else { return err("", "not a JSON object") };
        let (load_balancing, outlier_detection) = load_balancing(&top)?;
        let mut method_configs = Vec::new();
        let mut seen = HashMap::new();
        for (i, entry) in array(&top, "methodConfig", "methodConfig")?.iter().enumerate() {
            let at = format!("methodConfig[{i}]");
            let mc = method_config(entry, &at)?;
            for name in &mc.names {
                // gRFC A2: one name in two entries is an error.
                if let Some(first) = seen.insert(name.clone(), i) {
                    return err(&at, format!("name {name} is also in methodConfig[{first}]"));
                }
            }
            method_configs.push(mc);
        }
        let retry_throttling = match top.get("retryThrottling") {
            None | Some(Value::Null) => None,
            Some(v) => Some(throttling(v)?),
        };
        let health_check_service = match top.get("healthCheckConfig") {
            None | Some(Value::Null) => None,
            Some(Value::Object(h)) => {
                Some(string(h, "serviceName", "healthCheckConfig.serviceName")?.unwrap_or_default())
            }
            Some(_) => return err("healthCheckConfig", "not an object"),
        };
        Ok(ServiceConfig {
            load_balancing,
            method_configs,
            retry_throttling,
            health_check_service,
            outlier_detection,
        })
    }

    /// The `methodConfig` entry for the method at `path`
    /// (`/package.Service/Method`): the entry naming the method, else the
    /// one naming its service, else the one naming every method (gRFC A2).
    pub fn method(&self, path: &str) -> Option<&MethodConfig> {
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
        let find = |service: &str, method: &str| {
            self.method_configs
                .iter()
                .find(|mc| mc.names.iter().any(|n| n.service == service && n.method == method))
        };
        find(service, method).or_else(|| find(service, "")).or_else(|| find("", ""))
    }
}

impl std::fmt::Display for MethodName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{service: {:?}, method: {:?}}}", self.service, self.method)
    }
}

/// The balancer, and outlier detection around it.
type Balancing = (Option<LbPolicy>, Option<OutlierDetection>);

const SUPPORTED: &str = "pick_first, round_robin, least_request_experimental, weighted_round_robin, \
                         ring_hash_experimental, outlier_detection_experimental";

fn load_balancing(top: &Map<String, Value>) -> Parsed<Balancing> {
    if let Some(list) = top.get("loadBalancingConfig") {
        return match policy_list(list, "loadBalancingConfig")? {
            Some(found) => Ok(found),
            None => Ok((None, None)),
        };
    }
    match string(top, "loadBalancingPolicy", "loadBalancingPolicy")? {
        None => Ok((None, None)),
        Some(name) => {
            match policy(&name.to_ascii_lowercase(), &Value::Object(Map::new()), "loadBalancingPolicy")? {
                Some((p, None)) => Ok((Some(p), None)),
                _ => err("loadBalancingPolicy", format!("unknown policy {name:?}")),
            }
        }
    }
}

/// The first policy of a `loadBalancingConfig` list this client implements
/// (gRFC A24); `None` for an empty list.
fn policy_list(list: &Value, at: &str) -> Parsed<Option<Balancing>> {
    let Value::Array(list) = list else { return err(at, "not a list") };
    for (i, entry) in list.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Value::Object(one) = entry else { return err(&here, "not an object") };
        let mut policies = one.iter();
        let (Some((name, config)), None) = (policies.next(), policies.next()) else {
            return err(&here, "must name exactly one policy");
        };
        if !config.is_object() {
            return err(&format!("{here}.{name}"), "the policy's config is not an object");
        }
        if let Some((p, od)) = policy(name, config, &format!("{here}.{name}"))? {
            return Ok(Some((Some(p), od)));
        }
    }
    match list.is_empty() {
        true => Ok(None),
        false => err(at, format!("none of the policies is supported ({SUPPORTED})")),
    }
}

/// One named policy with its config; `None` when Weir does not implement it.
fn policy(name: &str, config: &Value, at: &str) -> Parsed<Option<(LbPolicy, Option<OutlierDetection>)>> {
    let p = match name {
        "pick_first" => LbPolicy::PickFirst,
        "round_robin" => LbPolicy::RoundRobin,
        "least_request_experimental" | "least_request" => least_request(config, at)?,
        "weighted_round_robin" => LbPolicy::WeightedRoundRobin,
        "ring_hash_experimental" | "ring_hash" => ring_hash(config, at)?,
        "outlier_detection_experimental" | "outlier_detection" => {
            return outlier_detection(config, at).map(Some);
        }
        _ => return Ok(None),
    };
    Ok(Some((p, None)))
}

/// gRFC A42: sizes default to 1024 and 8M, `minRingSize` ≤ `maxRingSize`
/// ≤ 8M; gRPC caps the ring at 4096 entries. gRFC A76: `requestHashHeader`.
fn ring_hash(config: &Value, at: &str) -> Parsed<LbPolicy> {
    let Value::Object(o) = config else { return err(at, "not an object") };
    const LIMIT: u64 = 8 * 1024 * 1024;
    let size = |key: &str, default: u64| -> Parsed<u64> {
        match o.get(key) {
            None => Ok(default),
            Some(v) => match integer(v) {
                Some(n) if (1..=LIMIT).contains(&n) => Ok(n),
                _ => err(&format!("{at}.{key}"), "must be an integer from 1 to 8388608"),
            },
        }
    };
    let (min, max) = (size("minRingSize", 1024)?, size("maxRingSize", LIMIT)?);
    if min > max {
        return err(&format!("{at}.minRingSize"), "is larger than maxRingSize");
    }
    let header =
        string(o, "requestHashHeader", &format!("{at}.requestHashHeader"))?.filter(|h| !h.is_empty());
    if let Some(h) = &header
        && (h.starts_with(':') || h.ends_with("-bin"))
    {
        return err(&format!("{at}.requestHashHeader"), "must not be a pseudo-header or binary header");
    }
    Ok(LbPolicy::RingHash { min_ring_size: min, max_ring_size: max, request_hash_header: header })
}

/// gRFC A50's config, with its `childPolicy` (a policy list).
fn outlier_detection(config: &Value, at: &str) -> Parsed<(LbPolicy, Option<OutlierDetection>)> {
    let Value::Object(o) = config else { return err(at, "not an object") };
    let d = OutlierDetection::default();
    let percent = |o: &Map<String, Value>, key: &str, default: u32, at: &str| -> Parsed<u32> {
        match o.get(key) {
            None => Ok(default),
            Some(v) => match integer(v) {
                Some(n) if n <= 100 => Ok(n as u32),
                _ => err(&format!("{at}.{key}"), "must be a percentage from 0 to 100"),
            },
        }
    };
    let count = |o: &Map<String, Value>, key: &str, default: u32, at: &str| -> Parsed<u32> {
        match o.get(key) {
            None => Ok(default),
            Some(v) => match integer(v).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Ok(n),
                None => err(&format!("{at}.{key}"), "must be a 32-bit unsigned integer"),
            },
        }
    };
    let positive = |key: &str, default: Duration| -> Parsed<Duration> {
        match duration(o, key, &format!("{at}.{key}"))? {
            None => Ok(default),
            Some(t) if t > Duration::ZERO => Ok(t),
            Some(_) => err(&format!("{at}.{key}"), "must be positive"),
        }
    };
    let success_rate = match o.get("successRateEjection") {
        None | Some(Value::Null) => None,
        Some(Value::Object(sr)) => {
            let here = format!("{at}.successRateEjection");
            let x = SuccessRateEjection::default();
            Some(SuccessRateEjection {
                stdev_factor: count(sr, "stdevFactor", x.stdev_factor, &here)?,
                enforcement_percentage: percent(
                    sr,
                    "enforcementPercentage",
                    x.enforcement_percentage,
                    &here,
                )?,
                minimum_hosts: count(sr, "minimumHosts", x.minimum_hosts, &here)?,
                request_volume: count(sr, "requestVolume", x.request_volume, &here)?,
            })
        }
        Some(_) => return err(&format!("{at}.successRateEjection"), "not an object"),
    };
    let failure_percentage = match o.get("failurePercentageEjection") {
        None | Some(Value::Null) => None,
        Some(Value::Object(fp)) => {
            let here = format!("{at}.failurePercentageEjection");
            let x = FailurePercentageEjection::default();
            Some(FailurePercentageEjection {
                threshold: percent(fp, "threshold", x.threshold, &here)?,
                enforcement_percentage: percent(
                    fp,
                    "enforcementPercentage",
                    x.enforcement_percentage,
                    &here,
                )?,
                minimum_hosts: count(fp, "minimumHosts", x.minimum_hosts, &here)?,
                request_volume: count(fp, "requestVolume", x.request_volume, &here)?,
            })
        }
        Some(_) => return err(&format!("{at}.failurePercentageEjection"), "not an object"),
    };
    let od = OutlierDetection {
        interval: positive("interval", d.interval)?,
        base_ejection_time: positive("baseEjectionTime", d.base_ejection_time)?,
        max_ejection_time: positive("maxEjectionTime", d.max_ejection_time)?,
        max_ejection_percent: percent(o, "maxEjectionPercent", d.max_ejection_percent, at)?,
        success_rate,
        failure_percentage,
    };
    let child_at = format!("{at}.childPolicy");
    let child = match o.get("childPolicy") {
        None => return err(&child_at, "is required"),
        Some(list) => policy_list(list, &child_at)?,
    };
    match child {
        Some((Some(p), None)) => Ok((p, Some(od))),
        Some(_) => err(&child_at, "must not be outlier detection again"),
        None => err(&child_at, "must name a policy"),
    }
}

/// gRFC A48: `choiceCount` defaults to 2, below 2 is invalid, above 10 is
/// taken as 10.
fn least_request(config: &Value, at: &str) -> Parsed<LbPolicy> {
    let choice_count = match config.get("choiceCount") {
        None => 2,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 2 => n.min(10) as u32,
            _ => return err(&format!("{at}.choiceCount"), "must be an integer of at least 2"),
        },
    };
    Ok(LbPolicy::LeastRequest { choice_count })
}

fn method_config(v: &Value, at: &str) -> Parsed<MethodConfig> {
    let Value::Object(o) = v else { return err(at, "not an object") };
    let mut names = Vec::new();
    for (i, n) in array(o, "name", &format!("{at}.name"))?.iter().enumerate() {
        let here = format!("{at}.name[{i}]");
        let Value::Object(n) = n else { return err(&here, "not an object") };
        let service = string(n, "service", &format!("{here}.service"))?.unwrap_or_default();
        let method = string(n, "method", &format!("{here}.method"))?.unwrap_or_default();
        if service.is_empty() && !method.is_empty() {
            return err(&here, "a method needs its service");
        }
        names.push(MethodName { service, method });
    }
    let retry = match o.get("retryPolicy") {
        None | Some(Value::Null) => None,
        Some(v) => Some(retry_policy(v, &format!("{at}.retryPolicy"))?),
    };
    let hedging = match o.get("hedgingPolicy") {
        None | Some(Value::Null) => None,
        Some(v) => Some(hedging_policy(v, &format!("{at}.hedgingPolicy"))?),
    };
    let policy = match (retry, hedging) {
        (Some(_), Some(_)) => return err(at, "retryPolicy and hedgingPolicy are mutually exclusive"),
        (Some(r), None) => Some(CallPolicy::Retry(r)),
        (None, Some(h)) => Some(CallPolicy::Hedging(h)),
        (None, None) => None,
    };
    Ok(MethodConfig {
        names,
        wait_for_ready: boolean(o, "waitForReady", &format!("{at}.waitForReady"))?,
        timeout: duration(o, "timeout", &format!("{at}.timeout"))?,
        max_request_message_bytes: size(
            o,
            "maxRequestMessageBytes",
            &format!("{at}.maxRequestMessageBytes"),
        )?,
        max_response_message_bytes: size(
            o,
            "maxResponseMessageBytes",
            &format!("{at}.maxResponseMessageBytes"),
        )?,
        policy,
    })
}

/// gRFC A6 `retryPolicy`: every field required, attempts above 1,
/// backoffs and multiplier above zero, at least one status.
fn retry_policy(v: &Value, at: &str) -> Parsed<RetryPolicy> {
    let Value::Object(o) = v else { return err(at, "not an object") };
    let max_attempts = attempts(o, at)?;
    let positive = |key: &str| -> Parsed<Duration> {
        let field = format!("{at}.{key}");
        match duration(o, key, &field)? {
            Some(d) if !d.is_zero() => Ok(d),
            Some(_) => err(&field, "must be above zero"),
            None => err(&field, "required"),
        }
    };
    let initial_backoff = positive("initialBackoff")?;
    let max_backoff = positive("maxBackoff")?;
    let field = format!("{at}.backoffMultiplier");
    let backoff_multiplier = match o.get("backoffMultiplier") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(m) if m > 0.0 && m.is_finite() => m,
            _ => return err(&field, "must be above zero"),
        },
        None => return err(&field, "required"),
        Some(_) => return err(&field, "not a number"),
    };
    let retryable_status_codes = codes(o, "retryableStatusCodes", &format!("{at}.retryableStatusCodes"))?;
    if retryable_status_codes.is_empty() {
        return err(&format!("{at}.retryableStatusCodes"), "required, with at least one status");
    }
    Ok(RetryPolicy { max_attempts, initial_backoff, max_backoff, backoff_multiplier, retryable_status_codes })
}

/// gRFC A6 `hedgingPolicy`: attempts above 1; the delay (default 0) and
/// the non-fatal statuses (default none) are optional.
fn hedging_policy(v: &Value, at: &str) -> Parsed<HedgingPolicy> {
    let Value::Object(o) = v else { return err(at, "not an object") };
    Ok(HedgingPolicy {
        max_attempts: attempts(o, at)?,
        hedging_delay: duration(o, "hedgingDelay", &format!("{at}.hedgingDelay"))?.unwrap_or_default(),
        non_fatal_status_codes: codes(o, "nonFatalStatusCodes", &format!("{at}.nonFatalStatusCodes"))?,
    })
}

/// `maxAttempts`: an integer above 1 (values above 5 are kept; the policy
/// treats them as 5).
fn attempts(o: &Map<String, Value>, at: &str) -> Parsed<u32> {
    let field = format!("{at}.maxAttempts");
    match o.get("maxAttempts") {
        Some(v) => match integer(v) {
            Some(n) if n >= 2 => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            _ => err(&field, "must be an integer of at least 2"),
        },
        None => err(&field, "required"),
    }
}

fn throttling(v: &Value) -> Parsed<RetryThrottling> {
    let at = "retryThrottling";
    let Value::Object(o) = v else { return err(at, "not an object") };
    let max_tokens = match o.get("maxTokens").map(integer) {
        Some(Some(n)) if (1..=1000).contains(&n) => n as u32,
        Some(_) => return err("retryThrottling.maxTokens", "must be an integer from 1 to 1000"),
        None => return err("retryThrottling.maxTokens", "required"),
    };
    let token_ratio = match o.get("tokenRatio") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(r) if r > 0.0 && r.is_finite() => r,
            _ => return err("retryThrottling.tokenRatio", "must be above zero"),
        },
        Some(_) => return err("retryThrottling.tokenRatio", "not a number"),
        None => return err("retryThrottling.tokenRatio", "required"),
    };
    Ok(RetryThrottling { max_tokens, token_ratio })
}

/// A JSON integer, or a string holding one (proto3 JSON writes 64-bit
/// integers as strings).
fn integer(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn size(o: &Map<String, Value>, key: &str, field: &str) -> Parsed<Option<usize>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match integer(v) {
            Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            None => err(field, "not a non-negative integer"),
        },
    }
}

fn boolean(o: &Map<String, Value>, key: &str, field: &str) -> Parsed<Option<bool>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => err(field, "not true or false"),
    }
}

fn string(o: &Map<String, Value>, key: &str, field: &str) -> Parsed<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => err(field, "not a string"),
    }
}

fn array<'a>(o: &'a Map<String, Value>, key: &str, field: &str) -> Parsed<&'a [Value]> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => err(field, "not a list"),
    }
}

fn duration(o: &Map<String, Value>, key: &str, field: &str) -> Parsed<Option<Duration>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_duration(s).map(Some).ok_or_else(|| ServiceConfigError {
            field: field.to_owned(),
            reason: format!("{s:?} is not a duration such as \"0.5s\""),
        }),
        Some(_) => err(field, "not a duration string such as \"0.5s\""),
    }
}

/// The JSON form of `google.protobuf.Duration`: seconds with up to nine
/// decimals and an `s` (`"1s"`, `"0.5s"`, `"1.000340012s"`); negative
/// durations are refused (no service config field takes one).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let digits = s.strip_suffix('s')?;
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(frac)
        || frac.len() > 9
        || (digits.contains('.') && frac.is_empty())
    {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    // google.protobuf.Duration's range: about 10,000 years.
    if secs > 315_576_000_000 {
        return None;
    }
    let nanos = format!("{frac:0<9}").parse::<u32>().ok()?;
    Some(Duration::new(secs, nanos))
}

fn codes(o: &Map<String, Value>, key: &str, field: &str) -> Parsed<Vec<Code>> {
    let mut out = Vec::new();
    for (i, v) in array(o, key, field)?.iter().enumerate() {
        let code = match v {
            Value::String(name) => code_by_name(name),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).and_then(code_by_number),
            _ => None,
        };
        match code {
            Some(c) if c != Code::Ok => out.push(c),
            _ => return err(&format!("{field}[{i}]"), format!("{v} is not a status code other than OK")),
        }
    }
    Ok(out)
}

fn code_by_number(n: u32) -> Option<Code> {
    Code::ALL.get(usize::try_from(n).ok()?).copied()
}

fn code_by_name(name: &str) -> Option<Code> {
    Code::ALL.iter().copied().find(|c| c.name().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gRFC A6's example, with a second entry for a whole service and a
    /// default entry.
    const A6: &str = r#"{
      "loadBalancingConfig": [{"weighted_target_experimental": {}}, {"round_robin": {}}],
      "methodConfig": [
        {
          "name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
          "timeout": "0.5s",
          "waitForReady": true,
          "maxRequestMessageBytes": 1024,
          "maxResponseMessageBytes": "2048",
          "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.1s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", 14, "resource_exhausted"]
          }
        },
        {
          "name": [{"service": "grpc.testing.TestService"}],
          "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.010s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
        },
        {"name": [{}], "timeout": "30s"}
      ],
      "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
      "healthCheckConfig": {"serviceName": "grpc.testing.TestService"}
    }"#;

    #[test]
    fn the_a6_example_parses_into_typed_settings() {
        let c = ServiceConfig::from_json(A6).unwrap();
        assert_eq!(c.load_balancing, Some(LbPolicy::RoundRobin), "the first policy we implement");
        assert_eq!(c.retry_throttling, Some(RetryThrottling { max_tokens: 10, token_ratio: 0.1 }));
        assert_eq!(c.health_check_service.as_deref(), Some("grpc.testing.TestService"));
        let unary = c.method("/grpc.testing.TestService/UnaryCall").unwrap();
        assert_eq!(unary.timeout, Some(Duration::from_millis(500)));
        assert_eq!(unary.wait_for_ready, Some(true));
        assert_eq!(unary.max_request_message_bytes, Some(1024));
        assert_eq!(unary.max_response_message_bytes, Some(2048), "64-bit integers may be strings");
        let Some(CallPolicy::Retry(r)) = &unary.policy else { panic!("retry policy expected") };
        assert_eq!(r.max_attempts, 4);
        assert_eq!((r.initial_backoff, r.max_backoff), (Duration::from_millis(100), Duration::from_secs(1)));
        assert_eq!(r.backoff_multiplier, 2.0);
        assert_eq!(
            r.retryable_status_codes,
            vec![Code::Unavailable, Code::Unavailable, Code::ResourceExhausted],
            "names (any case) and numbers"
        );
    }

    #[test]
    fn names_match_method_then_service_then_default() {
        let c = ServiceConfig::from_json(A6).unwrap();
        let hedged = c.method("/grpc.testing.TestService/StreamingCall").unwrap();
        let Some(CallPolicy::Hedging(h)) = &hedged.policy else { panic!("the service's entry expected") };
        assert_eq!((h.max_attempts, h.hedging_delay), (3, Duration::from_millis(10)));
        assert_eq!(hedged.timeout, None, "the most specific entry applies whole, not merged");
        let other = c.method("/other.Service/Call").unwrap();
        assert_eq!(other.timeout, Some(Duration::from_secs(30)), "the default entry");
        let none = ServiceConfig::from_json(r#"{"methodConfig": [{"name": [{"service": "a.B"}]}]}"#).unwrap();
        assert!(none.method("/c.D/E").is_none(), "no default entry: nothing applies");
        assert!(none.method("/a.B/E").is_some());
    }

    #[test]
    fn durations_in_their_json_form() {
        for (text, want) in [
            ("1s", Some(Duration::from_secs(1))),
            ("0.5s", Some(Duration::from_millis(500))),
            ("1.000340012s", Some(Duration::new(1, 340_012))),
            ("0.000000001s", Some(Duration::from_nanos(1))),
            ("30s", Some(Duration::from_secs(30))),
            ("1", None),
            ("1.s", None),
            (".5s", None),
            ("-1s", None),
            ("1.0000000001s", None),
            ("1ms", None),
            ("", None),
            ("315576000001s", None),
        ] {
            assert_eq!(parse_duration(text), want, "{text:?}");
        }
    }

    #[test]
    fn invalid_configs_name_the_field() {
        for (json, field) in [
            ("[]", ""),
            ("{", ""),
            (r#"{"methodConfig": {}}"#, "methodConfig"),
            (r#"{"methodConfig": [{"timeout": "5"}]}"#, "methodConfig[0].timeout"),
            (r#"{"methodConfig": [{"timeout": 5}]}"#, "methodConfig[0].timeout"),
            (r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#, "methodConfig[0].name[0]"),
            (r#"{"methodConfig": [{"name": [{}]}, {"name": [{}]}]}"#, "methodConfig[1]"),
            (r#"{"methodConfig": [{"waitForReady": "yes"}]}"#, "methodConfig[0].waitForReady"),
            (
                r#"{"methodConfig": [{"maxRequestMessageBytes": -1}]}"#,
                "methodConfig[0].maxRequestMessageBytes",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 1, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
                "methodConfig[0].retryPolicy.maxAttempts",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "0s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
                "methodConfig[0].retryPolicy.initialBackoff",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 0, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
                "methodConfig[0].retryPolicy.backoffMultiplier",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": []}}]}"#,
                "methodConfig[0].retryPolicy.retryableStatusCodes",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["NOPE"]}}]}"#,
                "methodConfig[0].retryPolicy.retryableStatusCodes[0]",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["OK"]}}]}"#,
                "methodConfig[0].retryPolicy.retryableStatusCodes[0]",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": [14]}, "hedgingPolicy": {"maxAttempts": 2}}]}"#,
                "methodConfig[0]",
            ),
            (r#"{"methodConfig": [{"hedgingPolicy": {}}]}"#, "methodConfig[0].hedgingPolicy.maxAttempts"),
            (r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#, "retryThrottling.maxTokens"),
            (r#"{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 1}}"#, "retryThrottling.maxTokens"),
            (r#"{"retryThrottling": {"maxTokens": 10}}"#, "retryThrottling.tokenRatio"),
            (r#"{"loadBalancingConfig": [{"grpclb": {}}]}"#, "loadBalancingConfig"),
            (r#"{"loadBalancingConfig": [{"round_robin": {}, "pick_first": {}}]}"#, "loadBalancingConfig[0]"),
            (r#"{"loadBalancingPolicy": "nope"}"#, "loadBalancingPolicy"),
            (
                r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 1}}]}"#,
                "loadBalancingConfig[0].least_request_experimental.choiceCount",
            ),
            (r#"{"healthCheckConfig": []}"#, "healthCheckConfig"),
        ] {
            let e = ServiceConfig::from_json(json).expect_err(json);
            assert_eq!(e.field, field, "{json}: {e}");
            assert!(e.to_string().starts_with("invalid service config"), "{e}");
        }
    }

    #[test]
    fn least_request_takes_its_choice_count() {
        let lr = |json: &str| ServiceConfig::from_json(json).unwrap().load_balancing;
        assert_eq!(
            lr(r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 3}}]}"#),
            Some(LbPolicy::LeastRequest { choice_count: 3 })
        );
        assert_eq!(
            lr(r#"{"loadBalancingConfig": [{"least_request_experimental": {}}]}"#),
            Some(LbPolicy::LeastRequest { choice_count: 2 }),
            "gRFC A48's default"
        );
        assert_eq!(
            lr(r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 25}}]}"#),
            Some(LbPolicy::LeastRequest { choice_count: 10 }),
            "capped at 10"
        );
        assert_eq!(
            lr(r#"{"loadBalancingPolicy": "least_request_experimental"}"#),
            Some(LbPolicy::LeastRequest { choice_count: 2 })
        );
    }

    #[test]
    fn ring_hash_weighted_round_robin_and_outlier_detection_parse() {
        let lb = |json: &str| ServiceConfig::from_json(json).unwrap();
        let c = lb(r#"{"loadBalancingConfig": [{"ring_hash_experimental": {
            "minRingSize": 64, "maxRingSize": "512", "requestHashHeader": "x-user"}}]}"#);
        assert_eq!(
            c.load_balancing,
            Some(LbPolicy::RingHash {
                min_ring_size: 64,
                max_ring_size: 512,
                request_hash_header: Some("x-user".into())
            })
        );
        let c = lb(r#"{"loadBalancingConfig": [{"ring_hash_experimental": {}}]}"#);
        assert_eq!(
            c.load_balancing,
            Some(LbPolicy::RingHash {
                min_ring_size: 1024,
                max_ring_size: 8 << 20,
                request_hash_header: None
            }),
            "gRFC A42's defaults"
        );
        let c = lb(r#"{"loadBalancingConfig": [{"weighted_round_robin": {}}]}"#);
        assert_eq!(c.load_balancing, Some(LbPolicy::WeightedRoundRobin));
        // A50: the child policy is the balancer; unset fields take A50's
        // defaults; ejection kinds are on only when present.
        let c = lb(r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {
            "interval": "1.5s", "maxEjectionPercent": 30,
            "failurePercentageEjection": {"threshold": 60, "requestVolume": 20},
            "childPolicy": [{"grpclb": {}}, {"least_request_experimental": {"choiceCount": 3}}]}}]}"#);
        assert_eq!(c.load_balancing, Some(LbPolicy::LeastRequest { choice_count: 3 }));
        let od = c.outlier_detection.unwrap();
        assert_eq!(od.interval, Duration::from_millis(1500));
        assert_eq!(
            (od.base_ejection_time, od.max_ejection_time),
            (Duration::from_secs(30), Duration::from_secs(300))
        );
        assert_eq!(od.max_ejection_percent, 30);
        assert_eq!(od.success_rate, None);
        assert_eq!(
            od.failure_percentage,
            Some(FailurePercentageEjection {
                threshold: 60,
                enforcement_percentage: 100,
                minimum_hosts: 5,
                request_volume: 20
            })
        );
        let c = lb(r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {
            "successRateEjection": {}, "childPolicy": [{"round_robin": {}}]}}]}"#);
        assert_eq!(c.outlier_detection.unwrap().success_rate, Some(SuccessRateEjection::default()));
        for (json, field) in [
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"minRingSize": 0}}]}"#,
                "loadBalancingConfig[0].ring_hash_experimental.minRingSize",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"maxRingSize": 8388609}}]}"#,
                "loadBalancingConfig[0].ring_hash_experimental.maxRingSize",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"minRingSize": 10, "maxRingSize": 5}}]}"#,
                "loadBalancingConfig[0].ring_hash_experimental.minRingSize",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "x-bin"}}]}"#,
                "loadBalancingConfig[0].ring_hash_experimental.requestHashHeader",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {}}]}"#,
                "loadBalancingConfig[0].outlier_detection_experimental.childPolicy",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"interval": "0s", "childPolicy": [{"round_robin": {}}]}}]}"#,
                "loadBalancingConfig[0].outlier_detection_experimental.interval",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"maxEjectionPercent": 101, "childPolicy": [{"round_robin": {}}]}}]}"#,
                "loadBalancingConfig[0].outlier_detection_experimental.maxEjectionPercent",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"failurePercentageEjection": {"threshold": 200}, "childPolicy": [{"round_robin": {}}]}}]}"#,
                "loadBalancingConfig[0].outlier_detection_experimental.failurePercentageEjection.threshold",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"childPolicy": [{"grpclb": {}}]}}]}"#,
                "loadBalancingConfig[0].outlier_detection_experimental.childPolicy",
            ),
        ] {
            let e = ServiceConfig::from_json(json).expect_err(json);
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }

    #[test]
    fn older_and_empty_forms() {
        let c = ServiceConfig::from_json(r#"{"loadBalancingPolicy": "ROUND_ROBIN"}"#).unwrap();
        assert_eq!(c.load_balancing, Some(LbPolicy::RoundRobin));
        assert_eq!(ServiceConfig::from_json("{}").unwrap(), ServiceConfig::default());
        let c = ServiceConfig::from_json(
            r#"{"methodConfig": [{"name": [{"service": "a.B"}], "hedgingPolicy": {"maxAttempts": 9}}]}"#,
        )
        .unwrap();
        let Some(CallPolicy::Hedging(h)) = &c.method_configs[0].policy else { panic!() };
        assert_eq!((h.max_attempts, h.hedging_delay, h.non_fatal_status_codes.len()), (9, Duration::ZERO, 0));
    }
}
