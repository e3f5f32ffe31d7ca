//! CORS (the Fetch standard's CORS protocol) for gRPC-Web: preflight
//! answers and the headers of actual responses, by the allowed origins.
//!
//! The same answers on both HTTP versions: the decisions work on any
//! request's header fields ([`RequestFields`]: an HTTP/1.1 request head or
//! an HTTP/2 header list) and give header fields ([`Answer`]), which each
//! driver turns into its own response.

use bytes::Bytes;
use weir_core::headers::Headers;
use weir_core::hpack::HeaderField;
use weir_core::http1::{Field, RequestHead, ResponseHead};

use super::{ALLOW_HEADERS, EXPOSE_HEADERS, GrpcWeb};

/// The longest `access-control-request-headers` value echoed back; a longer
/// one is refused (403).
const MAX_REQUESTED_HEADERS: usize = 4 << 10;

/// A request's header fields, whichever HTTP version carried them.
pub(crate) trait RequestFields {
    /// The first value of `name` (lower-case).
    fn field(&self, name: &str) -> Option<&Bytes>;
    /// Every value of `name` (lower-case), in order.
    fn each_field<'a>(&'a self, name: &'a str, f: &mut dyn FnMut(&'a Bytes) -> bool) -> bool;
}

impl RequestFields for RequestHead {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self.header(name)
    }
    fn each_field<'a>(&'a self, name: &'a str, f: &mut dyn FnMut(&'a Bytes) -> bool) -> bool {
        self.headers_named(name).all(f)
    }
}

/// HTTP/2 field names are lower-case on the wire (RFC 9113 §8.2.1).
impl RequestFields for Headers {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self.get(name.as_bytes())
    }
    fn each_field<'a>(&'a self, name: &'a str, f: &mut dyn FnMut(&'a Bytes) -> bool) -> bool {
        self.get_all(name.as_bytes()).all(f)
    }
}

/// A CORS answer: a status (for a preflight) and header fields, lower-case
/// names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// 204 for a preflight allowed, 403 refused.
    pub status: u16,
    /// The CORS header fields.
    pub fields: Vec<(&'static str, Bytes)>,
}

impl Answer {
    /// The answer as an HTTP/2 header list (the status goes apart).
    pub fn into_h2_fields(self) -> Vec<HeaderField> {
        self.fields.into_iter().map(|(n, v)| HeaderField::new(Bytes::from_static(n.as_bytes()), v)).collect()
    }
}

/// The answer to an `OPTIONS` preflight: 204 with the CORS headers when the
/// origin may call with `POST`, 403 (no CORS headers) otherwise.
pub(crate) fn preflight_answer(web: &GrpcWeb, req: &dyn RequestFields) -> Answer {
    let forbidden = Answer { status: 403, fields: Vec::new() };
    let Some(origin) = req.field("origin").filter(|o| web.allows(o)) else { return forbidden };
    let method = req.field("access-control-request-method").map(|m| &m[..]);
    if method.is_some_and(|m| m != b"POST") {
        return forbidden;
    }
    let mut allow: Vec<String> = ALLOW_HEADERS.iter().map(|h| h.to_string()).collect();
    allow.extend(web.allow_headers.iter().cloned());
    let ok = req.each_field("access-control-request-headers", &mut |value| {
        if value.len() > MAX_REQUESTED_HEADERS {
            return false;
        }
        for name in value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|n| !n.is_empty()) {
            if !name.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                return false;
            }
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            if !allow.contains(&name) {
                allow.push(name);
            }
        }
        true
    });
    if !ok {
        return forbidden;
    }
    let mut fields = vec![
        ("access-control-allow-origin", origin.clone()),
        ("access-control-allow-methods", Bytes::from_static(b"POST")),
        ("access-control-allow-headers", Bytes::from(allow.join(", "))),
        ("access-control-max-age", Bytes::from(web.max_age.as_secs().to_string())),
        (
            "vary",
            Bytes::from_static(b"origin, access-control-request-method, access-control-request-headers"),
        ),
    ];
    if web.allow_credentials {
        fields.push(("access-control-allow-credentials", Bytes::from_static(b"true")));
    }
    Answer { status: 204, fields }
}

/// The answer to an `OPTIONS` preflight over HTTP/1.1 ([`preflight_answer`];
/// a 403 says its empty body's length).
pub(super) fn preflight(web: &GrpcWeb, head: &RequestHead) -> ResponseHead {
    let answer = preflight_answer(web, head);
    let mut resp = ResponseHead::new(answer.status);
    if answer.status != 204 {
        resp = resp.with_content_length(0);
    }
    for (name, value) in answer.fields {
        resp = resp.with_header(name, value);
    }
    resp
}

/// The CORS headers of an actual response: `vary: origin`, and the rest
/// only if the request came from an allowed origin.
pub(crate) fn response_fields(web: &GrpcWeb, origin: Option<&Bytes>) -> Vec<(&'static str, Bytes)> {
    let mut out = vec![("vary", Bytes::from_static(b"origin"))];
    let Some(origin) = origin.filter(|o| web.allows(o)) else { return out };
    out.push(("access-control-allow-origin", origin.clone()));
    let mut expose: Vec<&str> = EXPOSE_HEADERS.to_vec();
    expose.extend(web.expose_headers.iter().map(String::as_str));
    out.push(("access-control-expose-headers", Bytes::from(expose.join(", "))));
    if web.allow_credentials {
        out.push(("access-control-allow-credentials", Bytes::from_static(b"true")));
    }
    out
}

/// The CORS headers of an actual HTTP/1.1 response ([`response_fields`]).
pub(super) fn response_headers(web: &GrpcWeb, head: &RequestHead, out: &mut Vec<Field>) {
    out.extend(response_fields(web, head.header("origin")).into_iter().map(|(n, v)| Field::new(n, v)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::http1::{BodyKind, RequestId, Version};

    fn head(method: &'static str, fields: &[(&'static str, &'static str)]) -> RequestHead {
        RequestHead {
            id: RequestId(0),
            method: Bytes::from_static(method.as_bytes()),
            target: Bytes::from_static(b"/a.B/C"),
            version: Version::Http11,
            headers: fields.iter().map(|(n, v)| Field::new(*n, *v)).collect(),
            body: BodyKind::Empty,
            keep_alive: true,
            expects_continue: false,
        }
    }

    fn get<'a>(resp: &'a ResponseHead, name: &str) -> Option<&'a [u8]> {
        resp.headers.iter().find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| &f.value[..])
    }

    #[test]
    fn preflights_from_allowed_origins_list_what_was_asked() {
        let web = GrpcWeb::new().allow_origin("https://app.example").allow_header("x-tenant");
        let req = head(
            "OPTIONS",
            &[
                ("Origin", "https://app.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type, X-Grpc-Web, x-api-key"),
            ],
        );
        let resp = preflight(&web, &req);
        assert_eq!(resp.status, 204);
        assert_eq!(get(&resp, "access-control-allow-origin"), Some(&b"https://app.example"[..]));
        assert_eq!(get(&resp, "access-control-allow-methods"), Some(&b"POST"[..]));
        let allowed =
            String::from_utf8_lossy(get(&resp, "access-control-allow-headers").unwrap()).into_owned();
        for h in ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-tenant", "x-api-key"] {
            assert!(allowed.split(", ").any(|a| a == h), "{h} in {allowed}");
        }
        assert_eq!(get(&resp, "access-control-max-age"), Some(&b"86400"[..]));
    }

    #[test]
    fn other_origins_methods_and_odd_headers_are_forbidden() {
        let web = GrpcWeb::new().allow_origin("https://app.example");
        for fields in [
            &[("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")][..],
            &[("Access-Control-Request-Method", "POST")],
            &[("Origin", "https://app.example"), ("Access-Control-Request-Method", "DELETE")],
            &[("Origin", "https://app.example"), ("Access-Control-Request-Headers", "bad header")],
        ] {
            let resp = preflight(&web, &head("OPTIONS", fields));
            assert_eq!(resp.status, 403, "{fields:?}");
            assert_eq!(get(&resp, "access-control-allow-origin"), None);
        }
        let any = GrpcWeb::new().allow_any_origin();
        assert_eq!(preflight(&any, &head("OPTIONS", &[("Origin", "https://evil.example")])).status, 204);
    }

    #[test]
    fn responses_carry_cors_headers_only_for_allowed_origins() {
        let web = GrpcWeb::new().allow_origin("https://app.example").allow_credentials(true);
        let mut out = Vec::new();
        response_headers(&web, &head("POST", &[("origin", "https://app.example")]), &mut out);
        let names: Vec<&[u8]> = out.iter().map(|f| &f.name[..]).collect();
        assert!(names.contains(&&b"access-control-allow-origin"[..]));
        assert!(names.contains(&&b"access-control-allow-credentials"[..]));
        let expose = out.iter().find(|f| &f.name[..] == b"access-control-expose-headers").unwrap();
        assert!(expose.value.starts_with(b"grpc-status, grpc-message"));
        let mut out = Vec::new();
        response_headers(&web, &head("POST", &[("origin", "https://evil.example")]), &mut out);
        assert!(out.iter().all(|f| !f.name.starts_with(b"access-control")));
    }
}
