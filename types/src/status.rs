//! [`StatusExt`]: rich error details on Weir's `Status`.

use prost::{DecodeError, Message, Name};
use weir_core::grpc::{Code, Status};

use crate::details::type_name;
use crate::{
    BadRequest, DebugInfo, ErrorDetails, ErrorInfo, Help, LocalizedMessage, PreconditionFailure,
    QuotaFailure, RequestInfo, ResourceInfo, RetryInfo, pb,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for weir_core::grpc::Status {}
}

/// Rich error details (`google.rpc.Status` in `grpc-status-details-bin`)
/// on Weir's [`Status`]: bring the trait into scope and call
/// `Status::with_error_details(...)`, `status.get_error_details()`,
/// `status.get_details_bad_request()`...
///
/// The readers parse [`Status::details`] each time they are called; to
/// read several kinds, call [`get_error_details`](Self::get_error_details)
/// once. Like gRPC's other implementations, they do not require the code and
/// message inside the details to match the status'.
///
/// ```
/// use weir_tokio::{Code, Status};
/// use weir_types::{ErrorDetails, StatusExt};
///
/// let status = Status::with_error_details(
///     Code::NotFound,
///     "no such user",
///     ErrorDetails::new()
///         .with_resource_info("user", "users/42", "", "deleted last week")
///         .with_help_link("user lifecycle", "https://example.com/docs/users"),
/// );
/// let resource = status.get_details_resource_info().unwrap();
/// assert_eq!(resource.resource_name, "users/42");
/// assert_eq!(status.get_details_help().unwrap().links.len(), 1);
///
/// // A status without details has none of them.
/// let plain = Status::not_found("no such user");
/// assert!(plain.get_error_details().is_empty());
/// assert_eq!(plain.get_details_resource_info(), None);
///
/// // Details that are not a google.rpc.Status are an error to `check_`...
/// let garbage = Status::internal("?").with_details(vec![0xff_u8, 0xff]);
/// assert!(garbage.check_error_details().is_err());
/// // ...and no details to `get_`.
/// assert!(garbage.get_error_details().is_empty());
/// ```
pub trait StatusExt: sealed::Sealed + Sized {
    /// A status whose details are `details`, encoded as a `google.rpc.Status`
    /// with the same code and message (which gRPC's other implementations
    /// check when they read it: grpcio's `rpc_status.from_call` raises if
    /// they differ).
    fn with_error_details(code: Code, message: impl Into<String>, details: ErrorDetails) -> Self;

    /// The details as a `google.rpc.Status` (an empty one when the status
    /// has no details); an error when they do not decode as one.
    fn check_rpc_status(&self) -> Result<pb::Status, DecodeError>;

    /// The standard details, typed; an error when the status' details, or one
    /// of the standard details in them, do not decode.
    fn check_error_details(&self) -> Result<ErrorDetails, DecodeError>;

    /// The standard details, typed; empty when there are none or they do not
    /// decode (see [`check_error_details`](Self::check_error_details)).
    fn get_error_details(&self) -> ErrorDetails;

    /// The detail of type `M`, if the status carries one that decodes (all of
    /// them merged, when several are present). Works for any message type
    /// with a [`prost::Name`], not only the standard ones.
    fn get_detail<M: Message + Name + Default>(&self) -> Option<M>;

    /// The [`RetryInfo`] detail, if any.
    fn get_details_retry_info(&self) -> Option<RetryInfo> {
        self.get_detail()
    }

    /// The [`DebugInfo`] detail, if any.
    fn get_details_debug_info(&self) -> Option<DebugInfo> {
        self.get_detail()
    }

    /// The [`QuotaFailure`] detail, if any.
    fn get_details_quota_failure(&self) -> Option<QuotaFailure> {
        self.get_detail()
    }

    /// The [`ErrorInfo`] detail, if any.
    fn get_details_error_info(&self) -> Option<ErrorInfo> {
        self.get_detail()
    }

    /// The [`PreconditionFailure`] detail, if any.
    fn get_details_precondition_failure(&self) -> Option<PreconditionFailure> {
        self.get_detail()
    }

    /// The [`BadRequest`] detail, if any.
    fn get_details_bad_request(&self) -> Option<BadRequest> {
        self.get_detail()
    }

    /// The [`RequestInfo`] detail, if any.
    fn get_details_request_info(&self) -> Option<RequestInfo> {
        self.get_detail()
    }

    /// The [`ResourceInfo`] detail, if any.
    fn get_details_resource_info(&self) -> Option<ResourceInfo> {
        self.get_detail()
    }

    /// The [`Help`] detail, if any.
    fn get_details_help(&self) -> Option<Help> {
        self.get_detail()
    }

    /// The [`LocalizedMessage`] detail, if any.
    fn get_details_localized_message(&self) -> Option<LocalizedMessage> {
        self.get_detail()
    }
}

impl StatusExt for Status {
    fn with_error_details(code: Code, message: impl Into<String>, details: ErrorDetails) -> Self {
        let message = message.into();
        let rpc = pb::Status { code: code as i32, message: message.clone(), details: details.to_any_vec() };
        Status::new(code, message).with_details(rpc.encode_to_vec())
    }

    fn check_rpc_status(&self) -> Result<pb::Status, DecodeError> {
        pb::Status::decode(&self.details[..])
    }

    fn check_error_details(&self) -> Result<ErrorDetails, DecodeError> {
        ErrorDetails::from_any_slice(&self.check_rpc_status()?.details)
    }

    fn get_error_details(&self) -> ErrorDetails {
        self.check_error_details().unwrap_or_default()
    }

    fn get_detail<M: Message + Name + Default>(&self) -> Option<M> {
        let rpc = self.check_rpc_status().ok()?;
        let name = M::full_name();
        let mut found: Option<M> = None;
        for any in rpc.details.iter().filter(|a| type_name(&a.type_url) == name) {
            found.get_or_insert_default().merge(&any.value[..]).ok()?;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::details::tests::everything;

    #[test]
    fn details_ride_in_a_google_rpc_status_with_the_same_code_and_message() {
        let details = everything();
        let st = Status::with_error_details(Code::ResourceExhausted, "slow down ☺", details.clone());
        assert_eq!((st.code(), st.message()), (Code::ResourceExhausted, "slow down ☺"));
        let rpc = pb::Status::decode(&st.details()[..]).unwrap();
        assert_eq!(rpc.code, 8);
        assert_eq!(rpc.message, "slow down ☺");
        assert_eq!(rpc.details, details.to_any_vec());
        assert_eq!(st.check_rpc_status().unwrap(), rpc);
        assert_eq!(st.check_error_details().unwrap(), details);
        assert_eq!(st.get_error_details(), details);
    }

    #[test]
    fn typed_readers_find_each_kind() {
        let d = everything();
        let st = Status::with_error_details(Code::InvalidArgument, "m", d.clone());
        assert_eq!(st.get_details_retry_info(), d.retry_info);
        assert_eq!(st.get_details_debug_info(), d.debug_info);
        assert_eq!(st.get_details_quota_failure(), d.quota_failure);
        assert_eq!(st.get_details_error_info(), d.error_info);
        assert_eq!(st.get_details_precondition_failure(), d.precondition_failure);
        assert_eq!(st.get_details_bad_request(), d.bad_request);
        assert_eq!(st.get_details_request_info(), d.request_info);
        assert_eq!(st.get_details_resource_info(), d.resource_info);
        assert_eq!(st.get_details_help(), d.help);
        assert_eq!(st.get_details_localized_message(), d.localized_message);
        assert!(d.retry_info.is_some() && d.localized_message.is_some(), "the fixture has every kind");

        let only =
            Status::with_error_details(Code::Aborted, "m", ErrorDetails::new().with_request_info("r", ""));
        assert_eq!(only.get_details_request_info().unwrap().request_id, "r");
        assert_eq!(only.get_details_bad_request(), None);
        assert_eq!(only.get_details_retry_info(), None);
    }

    #[test]
    fn no_details_and_bad_details() {
        let plain = Status::invalid_argument("x");
        assert_eq!(plain.check_rpc_status().unwrap(), pb::Status::default());
        assert!(plain.check_error_details().unwrap().is_empty());
        assert_eq!(plain.get_details_bad_request(), None);

        // No standard detail, but a status: empty details, no error.
        let empty = Status::with_error_details(Code::Internal, "m", ErrorDetails::new());
        assert!(!empty.details().is_empty());
        assert!(empty.check_error_details().unwrap().is_empty());

        // A google.rpc.Status whose BadRequest is truncated.
        let rpc = pb::Status {
            code: 3,
            message: "m".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
                value: vec![0x0a, 20, 1],
            }],
        };
        let broken = Status::invalid_argument("m").with_details(rpc.encode_to_vec());
        assert!(broken.check_error_details().is_err());
        assert!(broken.get_error_details().is_empty());
        assert_eq!(broken.get_details_bad_request(), None);
        assert!(broken.check_rpc_status().is_ok(), "the envelope itself is fine");
    }

    #[test]
    fn the_generic_reader_merges_and_reads_other_types() {
        let one = ErrorDetails::new().with_help_link("a", "1").to_any_vec();
        let two = ErrorDetails::new().with_help_link("b", "2").to_any_vec();
        let rpc = pb::Status { code: 5, message: String::new(), details: [one, two].concat() };
        let st = Status::not_found("").with_details(rpc.encode_to_vec());
        assert_eq!(st.get_detail::<Help>().unwrap().links.len(), 2);
        // Any message type with a Name: here google.rpc.Status itself, packed as a detail.
        let inner = pb::Status { code: 1, message: "inner".into(), details: vec![] };
        let st = Status::with_error_details(
            Code::Unknown,
            "outer",
            ErrorDetails::new().with_any(prost_types::Any::from_msg(&inner).unwrap()),
        );
        assert_eq!(st.get_detail::<pb::Status>(), Some(inner));
        assert_eq!(st.get_error_details().other.len(), 1);
    }
}
