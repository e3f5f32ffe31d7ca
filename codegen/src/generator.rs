//! The service generator prost-build calls for every `service` in a file:
//! writes a client module and a server module per service.

use std::fmt::Write;

use prost_build::{Method, Service, ServiceGenerator};

/// What to generate.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Client structs.
    pub client: bool,
    /// Server traits and their `Service` adapters.
    pub server: bool,
    /// Path of the runtime crate in generated code.
    pub crate_path: String,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions { client: true, server: true, crate_path: "::weir_rt".to_owned() }
    }
}

pub(crate) struct Generator {
    options: ServiceOptions,
}

impl Generator {
    pub fn new(options: ServiceOptions) -> Self {
        Generator { options }
    }
}

impl ServiceGenerator for Generator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        if self.options.client {
            client(&service, &self.options.crate_path, buf);
        }
        if self.options.server {
            server(&service, &self.options.crate_path, buf);
        }
    }
}

/// `helloworld.Greeter`, or `Greeter` without a package.
fn full_name(s: &Service) -> String {
    if s.package.is_empty() { s.proto_name.clone() } else { format!("{}.{}", s.package, s.proto_name) }
}

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            // A word starts at a capital after a small letter or digit, or
            // at the last capital of an acronym before a small letter:
            // `KV` → `kv`, `HTTPServer` → `http_server` (as tonic names them).
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let after_word = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            let acronym_end =
                prev.is_some_and(|p| p.is_ascii_uppercase()) && next.is_some_and(|n| n.is_ascii_lowercase());
            if after_word || acronym_end {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod snake_tests {
    use super::snake;

    #[test]
    fn acronyms_stay_one_word() {
        assert_eq!(snake("KV"), "kv");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("LeaseKeepAlive"), "lease_keep_alive");
        assert_eq!(snake("RouteGuide"), "route_guide");
        assert_eq!(snake("Get2Things"), "get2_things");
        assert_eq!(snake("unaryCall"), "unary_call");
    }
}

/// A message type as seen from the generated module (one level below the
/// package module).
fn ty(path: &str) -> String {
    // Absolute paths, and `()` (prost's google.protobuf.Empty), stay as they are.
    if path.starts_with("::") || path.starts_with("crate::") || path == "()" {
        path.to_owned()
    } else {
        format!("super::{path}")
    }
}

fn upper_camel(snake_name: &str) -> String {
    snake_name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn client(s: &Service, w: &str, buf: &mut String) {
    let module = format!("{}_client", snake(&s.proto_name));
    let client = format!("{}Client", s.name);
    let full = full_name(s);
    let _ = writeln!(buf, "/// Generated client for `{full}`.");
    let _ = writeln!(buf, "pub mod {module} {{");
    let _ = writeln!(buf, "    #![allow(unused_imports, dead_code, missing_docs, clippy::all)]");
    s.comments.append_with_indent(1, buf);
    let _ = writeln!(buf, "    #[derive(Debug, Clone)]");
    let _ = writeln!(buf, "    pub struct {client} {{\n        channel: {w}::Channel,\n    }}");
    let _ = writeln!(buf, "    impl {client} {{");
    let _ = writeln!(
        buf,
        "        /// A client calling over `channel` (from `weir_tokio::Endpoint` or `weir_smol::Endpoint`)."
    );
    let _ = writeln!(
        buf,
        "        pub fn new(channel: {w}::Channel) -> Self {{\n            Self {{ channel }}\n        }}"
    );
    let _ = writeln!(buf, "        /// The channel underneath.");
    let _ = writeln!(
        buf,
        "        pub fn channel(&self) -> &{w}::Channel {{\n            &self.channel\n        }}"
    );
    for m in &s.methods {
        client_method(m, &full, w, buf);
    }
    let _ = writeln!(buf, "    }}\n}}");
}

fn client_method(m: &Method, full: &str, w: &str, buf: &mut String) {
    let (input, output) = (ty(&m.input_type), ty(&m.output_type));
    let path = format!("/{full}/{}", m.proto_name);
    let codec = format!("{w}::ProstCodec<{input}, {output}>");
    m.comments.append_with_indent(2, buf);
    let result = |resp: &str| format!("::std::result::Result<{w}::Response<{resp}>, {w}::Status>");
    let streaming_out = format!("{w}::Streaming<{output}>");
    let name = &m.name;
    let (sig, call) = match (m.client_streaming, m.server_streaming) {
        (false, false) => (
            format!(
                "pub async fn {name}(&self, request: impl {w}::IntoRequest<{input}>) -> {}",
                result(&output)
            ),
            format!(
                "{w}::client::typed::unary::<{codec}>(&self.channel, \"{path}\", request.into_request()).await"
            ),
        ),
        (false, true) => (
            format!(
                "pub async fn {name}(&self, request: impl {w}::IntoRequest<{input}>) -> {}",
                result(&streaming_out)
            ),
            format!(
                "{w}::client::typed::server_streaming::<{codec}>(&self.channel, \"{path}\", request.into_request()).await"
            ),
        ),
        (true, false) => (
            format!(
                "pub async fn {name}(&self, request: impl {w}::IntoStreamingRequest<Message = {input}>) -> {}",
                result(&output)
            ),
            format!(
                "{w}::client::typed::client_streaming::<{codec}, _>(&self.channel, \"{path}\", request.into_streaming_request()).await"
            ),
        ),
        (true, true) => (
            format!(
                "pub async fn {name}(&self, request: impl {w}::IntoStreamingRequest<Message = {input}>) -> {}",
                result(&streaming_out)
            ),
            format!(
                "{w}::client::typed::streaming::<{codec}, _>(&self.channel, \"{path}\", request.into_streaming_request()).await"
            ),
        ),
    };
    let _ = writeln!(buf, "        {sig}\n        {{\n            {call}\n        }}");
}

fn server(s: &Service, w: &str, buf: &mut String) {
    let module = format!("{}_server", snake(&s.proto_name));
    let tr = &s.name;
    let server = format!("{}Server", s.name);
    let full = full_name(s);
    let _ = writeln!(buf, "/// Generated server for `{full}`.");
    let _ = writeln!(buf, "pub mod {module} {{");
    let _ = writeln!(buf, "    #![allow(unused_imports, dead_code, missing_docs, clippy::all)]");
    s.comments.append_with_indent(1, buf);
    let _ = writeln!(
        buf,
        "    ///\n    /// Implement this trait and serve it with `Server::add_service({server}::new(impl))`."
    );
    let _ = writeln!(buf, "    pub trait {tr}: ::std::marker::Send + ::std::marker::Sync + 'static {{");
    for m in &s.methods {
        trait_method(m, w, buf);
    }
    let _ = writeln!(buf, "    }}");
    let _ = writeln!(buf, "    /// The fully qualified name of the service.");
    let _ = writeln!(buf, "    pub const SERVICE_NAME: &str = \"{full}\";");
    let _ = writeln!(buf, "    /// Serves a [`{tr}`] implementation.");
    let _ = writeln!(buf, "    pub struct {server}<T> {{\n        inner: ::std::sync::Arc<T>,\n    }}");
    let _ = writeln!(
        buf,
        "    impl<T: {tr}> {server}<T> {{\n        /// Wraps an implementation.\n        pub fn new(inner: T) -> Self {{\n            Self {{ inner: ::std::sync::Arc::new(inner) }}\n        }}\n        /// Wraps a shared implementation.\n        pub fn from_arc(inner: ::std::sync::Arc<T>) -> Self {{\n            Self {{ inner }}\n        }}\n    }}"
    );
    let _ = writeln!(
        buf,
        "    impl<T> ::std::clone::Clone for {server}<T> {{\n        fn clone(&self) -> Self {{\n            Self {{ inner: self.inner.clone() }}\n        }}\n    }}"
    );
    let _ = writeln!(
        buf,
        "    impl<T> ::std::fmt::Debug for {server}<T> {{\n        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n            f.write_str(\"{server}\")\n        }}\n    }}"
    );
    let _ = writeln!(buf, "    impl<T: {tr}> {w}::Service for {server}<T> {{");
    let _ = writeln!(buf, "        fn name(&self) -> &'static str {{\n            SERVICE_NAME\n        }}");
    let _ = writeln!(
        buf,
        "        fn methods(self: ::std::sync::Arc<Self>) -> ::std::vec::Vec<(&'static str, {w}::Method)> {{"
    );
    let _ = writeln!(buf, "            let mut methods = ::std::vec::Vec::new();");
    for m in &s.methods {
        route(m, tr, w, buf);
    }
    let _ = writeln!(buf, "            methods\n        }}\n    }}\n}}");
}

fn trait_method(m: &Method, w: &str, buf: &mut String) {
    let (input, output) = (ty(&m.input_type), ty(&m.output_type));
    let name = &m.name;
    let stream_ty = format!("{}Stream", upper_camel(name));
    if m.server_streaming {
        let _ = writeln!(buf, "        /// The response stream of [`Self::{name}`].");
        let _ = writeln!(
            buf,
            "        type {stream_ty}: {w}::codegen::Stream<Item = ::std::result::Result<{output}, {w}::Status>> + ::std::marker::Send + 'static;"
        );
    }
    m.comments.append_with_indent(2, buf);
    let req = if m.client_streaming { format!("{w}::Streaming<{input}>") } else { input };
    let resp = if m.server_streaming { format!("Self::{stream_ty}") } else { output };
    let _ = writeln!(
        buf,
        "        fn {name}(&self, request: {w}::Request<{req}>) -> impl ::std::future::Future<Output = ::std::result::Result<{w}::Response<{resp}>, {w}::Status>> + ::std::marker::Send;"
    );
}

fn route(m: &Method, tr: &str, w: &str, buf: &mut String) {
    let (input, output) = (ty(&m.input_type), ty(&m.output_type));
    let name = &m.name;
    let codec = format!("{w}::ProstCodec<{output}, {input}>");
    let typed = match (m.client_streaming, m.server_streaming) {
        (false, false) => format!("unary::<{codec}, _, _>"),
        (false, true) => format!("server_streaming::<{codec}, _, _, T::{}Stream>", upper_camel(name)),
        (true, false) => format!("client_streaming::<{codec}, _, _>"),
        (true, true) => format!("bidi::<{codec}, _, _, T::{}Stream>", upper_camel(name)),
    };
    let _ = writeln!(
        buf,
        "            {{\n                let inner = self.inner.clone();\n                methods.push((\n                    \"{}\",\n                    {w}::server::typed::{typed}(move |request| {{\n                        let inner = inner.clone();\n                        async move {{ <T as {tr}>::{name}(&inner, request).await }}\n                    }}),\n                ));\n            }}",
        m.proto_name
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("RouteGuide"), "route_guide");
        assert_eq!(snake("Greeter"), "greeter");
        assert_eq!(upper_camel("list_features"), "ListFeatures");
        assert_eq!(ty("HelloRequest"), "super::HelloRequest");
        assert_eq!(ty("::prost_types::Timestamp"), "::prost_types::Timestamp");
        assert_eq!(ty("()"), "()");
    }
}
