//! [`ErrorDetails`]: the standard details of one status, typed.

use std::time::Duration;

use prost::{DecodeError, Message, Name};
use prost_types::Any;

use crate::{
    BadRequest, DebugInfo, ErrorInfo, FieldViolation, Help, HelpLink, LocalizedMessage, PreconditionFailure,
    PreconditionViolation, QuotaFailure, QuotaViolation, RequestInfo, ResourceInfo, RetryInfo,
};

/// The largest `google.protobuf.Duration` (10,000 years); longer retry
/// delays are clamped to it.
const MAX_DURATION_SECS: u64 = 315_576_000_000;

/// The rich error details of one status: at most one message of each
/// standard kind (as `google.rpc`'s guidance asks), plus any other packed
/// messages, kept as they came.
///
/// Build one with the `with_*` methods (each creates its message if needed;
/// the repeated kinds append), or set the public fields directly for full
/// control (e.g. a [`FieldViolation`]'s `reason` or `localized_message`).
///
/// ```
/// use std::time::Duration;
/// use weir_types::{ErrorDetails, FieldViolation, LocalizedMessage};
///
/// let mut details = ErrorDetails::new()
///     .with_error_info("RATE_LIMITED", "example.com")
///     .with_error_metadata("limit", "100/s")
///     .with_quota_violation("user:42", "too many requests")
///     .with_retry_info(Some(Duration::from_millis(1500)));
/// // Full messages through the fields:
/// details.bad_request.get_or_insert_default().field_violations.push(FieldViolation {
///     field: "email".into(),
///     description: "not an address".into(),
///     reason: "INVALID_EMAIL".into(),
///     localized_message: Some(LocalizedMessage { locale: "fr-FR".into(), message: "adresse invalide".into() }),
/// });
/// assert_eq!(details.error_info.as_ref().unwrap().metadata["limit"], "100/s");
/// assert_eq!(details.retry_delay(), Some(Duration::from_millis(1500)));
/// assert_eq!(details.to_any_vec().len(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorDetails {
    /// When the client may retry.
    pub retry_info: Option<RetryInfo>,
    /// Debugging information (stack entries, detail).
    pub debug_info: Option<DebugInfo>,
    /// Which quota checks failed.
    pub quota_failure: Option<QuotaFailure>,
    /// The cause of the error: reason, domain, metadata.
    pub error_info: Option<ErrorInfo>,
    /// Which preconditions failed.
    pub precondition_failure: Option<PreconditionFailure>,
    /// Which request fields were invalid.
    pub bad_request: Option<BadRequest>,
    /// The request's identity, for bug reports.
    pub request_info: Option<RequestInfo>,
    /// The resource being accessed.
    pub resource_info: Option<ResourceInfo>,
    /// Links to documentation.
    pub help: Option<Help>,
    /// A localized message safe to show to the user.
    pub localized_message: Option<LocalizedMessage>,
    /// Packed messages of other types (not `google.rpc` details), in order.
    pub other: Vec<Any>,
}

/// The part of a type URL naming the type (after the last `/`).
pub(crate) fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// Packs `msg` as an `Any` with its `type.googleapis.com/` type URL.
fn pack<M: Message + Name>(msg: &M) -> Any {
    Any { type_url: M::type_url(), value: msg.encode_to_vec() }
}

impl ErrorDetails {
    /// No details.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when there is no detail at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sets [`RetryInfo`]: retry after `retry_delay` (`None`: retrying is
    /// fine, no delay suggested). Delays past 10,000 years are clamped.
    pub fn with_retry_info(mut self, retry_delay: Option<Duration>) -> Self {
        let retry_delay = retry_delay.map(|d| {
            let d = d.min(Duration::from_secs(MAX_DURATION_SECS));
            prost_types::Duration::try_from(d).expect("clamped to the Duration range")
        });
        self.retry_info = Some(RetryInfo { retry_delay });
        self
    }

    /// Sets [`DebugInfo`]'s detail (creating it if needed).
    pub fn with_debug_info(mut self, detail: impl Into<String>) -> Self {
        self.debug_info.get_or_insert_default().detail = detail.into();
        self
    }

    /// Appends stack entries to [`DebugInfo`] (creating it if needed), e.g.
    /// the lines of a backtrace.
    pub fn with_stack_entries(mut self, entries: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.debug_info.get_or_insert_default().stack_entries.extend(entries.into_iter().map(Into::into));
        self
    }

    /// Appends a violation to [`QuotaFailure`] (creating it if needed).
    pub fn with_quota_violation(
        mut self,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.quota_failure.get_or_insert_default().violations.push(QuotaViolation {
            subject: subject.into(),
            description: description.into(),
            ..QuotaViolation::default()
        });
        self
    }

    /// Sets [`ErrorInfo`]'s reason (an UPPER_SNAKE_CASE constant) and domain
    /// (e.g. the service's name), keeping metadata already set.
    pub fn with_error_info(mut self, reason: impl Into<String>, domain: impl Into<String>) -> Self {
        let info = self.error_info.get_or_insert_default();
        info.reason = reason.into();
        info.domain = domain.into();
        self
    }

    /// Adds one metadata entry to [`ErrorInfo`] (creating it if needed).
    pub fn with_error_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.error_info.get_or_insert_default().metadata.insert(key.into(), value.into());
        self
    }

    /// Appends a violation to [`PreconditionFailure`] (creating it if needed).
    pub fn with_precondition_violation(
        mut self,
        violation_type: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.precondition_failure.get_or_insert_default().violations.push(PreconditionViolation {
            r#type: violation_type.into(),
            subject: subject.into(),
            description: description.into(),
        });
        self
    }

    /// Appends a field violation to [`BadRequest`] (creating it if needed).
    pub fn with_bad_request_violation(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.bad_request.get_or_insert_default().field_violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
            ..FieldViolation::default()
        });
        self
    }

    /// Sets [`RequestInfo`].
    pub fn with_request_info(
        mut self,
        request_id: impl Into<String>,
        serving_data: impl Into<String>,
    ) -> Self {
        self.request_info =
            Some(RequestInfo { request_id: request_id.into(), serving_data: serving_data.into() });
        self
    }

    /// Sets [`ResourceInfo`].
    pub fn with_resource_info(
        mut self,
        resource_type: impl Into<String>,
        resource_name: impl Into<String>,
        owner: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.resource_info = Some(ResourceInfo {
            resource_type: resource_type.into(),
            resource_name: resource_name.into(),
            owner: owner.into(),
            description: description.into(),
        });
        self
    }

    /// Appends a link to [`Help`] (creating it if needed).
    pub fn with_help_link(mut self, description: impl Into<String>, url: impl Into<String>) -> Self {
        self.help
            .get_or_insert_default()
            .links
            .push(HelpLink { description: description.into(), url: url.into() });
        self
    }

    /// Sets [`LocalizedMessage`] (`locale` as in BCP 47, e.g. `en-US`).
    pub fn with_localized_message(mut self, locale: impl Into<String>, message: impl Into<String>) -> Self {
        self.localized_message = Some(LocalizedMessage { locale: locale.into(), message: message.into() });
        self
    }

    /// Appends a packed message of another type (sent after the standard
    /// ones).
    pub fn with_any(mut self, any: Any) -> Self {
        self.other.push(any);
        self
    }

    /// [`RetryInfo`]'s delay as a `std::time::Duration`; `None` when there
    /// is no `RetryInfo`, it has no delay, or the delay is negative.
    pub fn retry_delay(&self) -> Option<Duration> {
        let d = self.retry_info.as_ref()?.retry_delay?;
        Duration::try_from(d).ok()
    }

    /// The details packed as `Any`s, standard kinds first (in the order of
    /// the fields), then [`other`](Self::other).
    pub fn to_any_vec(&self) -> Vec<Any> {
        let mut out = Vec::new();
        if let Some(m) = &self.retry_info {
            out.push(pack(m));
        }
        if let Some(m) = &self.debug_info {
            out.push(pack(m));
        }
        if let Some(m) = &self.quota_failure {
            out.push(pack(m));
        }
        if let Some(m) = &self.error_info {
            out.push(pack(m));
        }
        if let Some(m) = &self.precondition_failure {
            out.push(pack(m));
        }
        if let Some(m) = &self.bad_request {
            out.push(pack(m));
        }
        if let Some(m) = &self.request_info {
            out.push(pack(m));
        }
        if let Some(m) = &self.resource_info {
            out.push(pack(m));
        }
        if let Some(m) = &self.help {
            out.push(pack(m));
        }
        if let Some(m) = &self.localized_message {
            out.push(pack(m));
        }
        out.extend(self.other.iter().cloned());
        out
    }

    /// Unpacks details. A standard kind that appears more than once is
    /// merged (protobuf merge: repeated fields concatenate, later scalars
    /// win); types that are not `google.rpc` details go to
    /// [`other`](Self::other). Fails when a standard detail does not decode.
    pub fn from_any_slice(anys: &[Any]) -> Result<Self, DecodeError> {
        let mut d = ErrorDetails::new();
        for any in anys {
            let v = &any.value[..];
            match type_name(&any.type_url) {
                "google.rpc.RetryInfo" => d.retry_info.get_or_insert_default().merge(v)?,
                "google.rpc.DebugInfo" => d.debug_info.get_or_insert_default().merge(v)?,
                "google.rpc.QuotaFailure" => d.quota_failure.get_or_insert_default().merge(v)?,
                "google.rpc.ErrorInfo" => d.error_info.get_or_insert_default().merge(v)?,
                "google.rpc.PreconditionFailure" => {
                    d.precondition_failure.get_or_insert_default().merge(v)?
                }
                "google.rpc.BadRequest" => d.bad_request.get_or_insert_default().merge(v)?,
                "google.rpc.RequestInfo" => d.request_info.get_or_insert_default().merge(v)?,
                "google.rpc.ResourceInfo" => d.resource_info.get_or_insert_default().merge(v)?,
                "google.rpc.Help" => d.help.get_or_insert_default().merge(v)?,
                "google.rpc.LocalizedMessage" => d.localized_message.get_or_insert_default().merge(v)?,
                _ => d.other.push(any.clone()),
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One of every kind, with every field set somewhere.
    pub(crate) fn everything() -> ErrorDetails {
        let mut d = ErrorDetails::new()
            .with_retry_info(Some(Duration::new(3, 250_000_000)))
            .with_stack_entries(["at a()", "at b()"])
            .with_debug_info("boom")
            .with_quota_violation("user:42", "daily limit")
            .with_error_info("QUOTA_EXCEEDED", "example.com")
            .with_error_metadata("limit", "100")
            .with_error_metadata("unit", "requests/day")
            .with_precondition_violation("TOS", "example.com/terms", "not accepted")
            .with_bad_request_violation("name", "must not be empty")
            .with_bad_request_violation("age", "must be positive")
            .with_request_info("req-7", "opaque")
            .with_resource_info("table", "users", "team:core", "read-only")
            .with_help_link("docs", "https://example.com/help")
            .with_localized_message("fr-FR", "requête invalide ☺")
            .with_any(Any { type_url: "type.googleapis.com/my.pkg.Custom".into(), value: vec![8, 1] });
        let q = &mut d.quota_failure.as_mut().unwrap().violations[0];
        q.quota_dimensions.insert("region".into(), "eu".into());
        q.future_quota_value = Some(200);
        q.quota_value = 100;
        d.bad_request.as_mut().unwrap().field_violations[0].localized_message =
            Some(LocalizedMessage { locale: "de".into(), message: "leer".into() });
        d
    }

    #[test]
    fn builders_fill_the_messages() {
        let d = everything();
        assert_eq!(
            d.retry_info.unwrap().retry_delay,
            Some(prost_types::Duration { seconds: 3, nanos: 250_000_000 })
        );
        assert_eq!(d.debug_info.as_ref().unwrap().stack_entries, ["at a()", "at b()"]);
        assert_eq!(d.debug_info.as_ref().unwrap().detail, "boom");
        let info = d.error_info.as_ref().unwrap();
        assert_eq!((info.reason.as_str(), info.domain.as_str()), ("QUOTA_EXCEEDED", "example.com"));
        assert_eq!(info.metadata.len(), 2);
        let bad = &d.bad_request.as_ref().unwrap().field_violations;
        assert_eq!(bad.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(), ["name", "age"]);
        assert_eq!(d.precondition_failure.as_ref().unwrap().violations[0].r#type, "TOS");
        assert_eq!(d.help.as_ref().unwrap().links[0].url, "https://example.com/help");
        assert_eq!(d.resource_info.as_ref().unwrap().owner, "team:core");
        assert_eq!(d.other.len(), 1);
        assert!(!d.is_empty() && ErrorDetails::new().is_empty());
        // Metadata set before the reason is kept.
        let d = ErrorDetails::new().with_error_metadata("k", "v").with_error_info("R", "d");
        assert_eq!(d.error_info.unwrap().metadata["k"], "v");
    }

    #[test]
    fn packing_round_trips_in_field_order() {
        let d = everything();
        let anys = d.to_any_vec();
        let urls: Vec<_> = anys.iter().map(|a| a.type_url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "type.googleapis.com/google.rpc.RetryInfo",
                "type.googleapis.com/google.rpc.DebugInfo",
                "type.googleapis.com/google.rpc.QuotaFailure",
                "type.googleapis.com/google.rpc.ErrorInfo",
                "type.googleapis.com/google.rpc.PreconditionFailure",
                "type.googleapis.com/google.rpc.BadRequest",
                "type.googleapis.com/google.rpc.RequestInfo",
                "type.googleapis.com/google.rpc.ResourceInfo",
                "type.googleapis.com/google.rpc.Help",
                "type.googleapis.com/google.rpc.LocalizedMessage",
                "type.googleapis.com/my.pkg.Custom",
            ]
        );
        assert_eq!(ErrorDetails::from_any_slice(&anys).unwrap(), d);
        assert!(ErrorDetails::from_any_slice(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_wire_form_is_protobufs() {
        // BadRequest { field_violations: [{ field: "a", description: "b" }] }:
        // field 1 (LEN) holding field 1 "a" and field 2 "b".
        let any = &ErrorDetails::new().with_bad_request_violation("a", "b").to_any_vec()[0];
        assert_eq!(any.value, [0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'b']);
        // RetryInfo { retry_delay: 2.5 s }: field 1 holding seconds (1) and nanos (2),
        // the bytes Python's protobuf writes for it.
        let any = &ErrorDetails::new().with_retry_info(Some(Duration::from_millis(2500))).to_any_vec()[0];
        assert_eq!(any.value, [0x0a, 8, 0x08, 2, 0x10, 0x80, 0xCA, 0xB5, 0xEE, 0x01]);
    }

    #[test]
    fn repeated_kinds_merge_and_any_domain_is_accepted() {
        let a = ErrorDetails::new().with_bad_request_violation("x", "1").with_retry_info(None);
        let b = ErrorDetails::new().with_bad_request_violation("y", "2");
        let mut anys = a.to_any_vec();
        anys.extend(b.to_any_vec());
        // Another domain, or none, still names the type.
        anys[0].type_url = "example.com/google.rpc.RetryInfo".into();
        anys[1].type_url = "/google.rpc.BadRequest".into();
        let d = ErrorDetails::from_any_slice(&anys).unwrap();
        let fields: Vec<_> = d.bad_request.unwrap().field_violations.into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["x", "y"]);
        assert_eq!(d.retry_info, Some(RetryInfo { retry_delay: None }));
        assert!(d.other.is_empty());
    }

    #[test]
    fn a_malformed_standard_detail_is_an_error() {
        let bad =
            Any { type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(), value: vec![0x0a, 9, b'x'] };
        assert!(ErrorDetails::from_any_slice(&[bad]).is_err());
        // The same bytes under an unknown type are kept, not decoded.
        let other = Any { type_url: "type.googleapis.com/x.Y".into(), value: vec![0x0a, 9, b'x'] };
        assert_eq!(ErrorDetails::from_any_slice(std::slice::from_ref(&other)).unwrap().other, [other]);
    }

    #[test]
    fn retry_delays_convert_and_clamp() {
        let d = ErrorDetails::new().with_retry_info(Some(Duration::MAX));
        assert_eq!(d.retry_info.as_ref().unwrap().retry_delay.unwrap().seconds, 315_576_000_000);
        assert_eq!(d.retry_delay(), Some(Duration::from_secs(315_576_000_000)));
        assert_eq!(ErrorDetails::new().with_retry_info(None).retry_delay(), None);
        assert_eq!(ErrorDetails::new().retry_delay(), None);
        let negative = ErrorDetails {
            retry_info: Some(RetryInfo {
                retry_delay: Some(prost_types::Duration { seconds: -1, nanos: 0 }),
            }),
            ..ErrorDetails::default()
        };
        assert_eq!(negative.retry_delay(), None);
    }
}
