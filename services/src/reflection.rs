//! Server reflection, `grpc.reflection.v1` and `grpc.reflection.v1alpha`:
//! clients (grpcurl, grpcio's `ProtoReflectionDescriptorDatabase`, Postman)
//! list a server's services and fetch their descriptors at run time.
//!
//! The descriptors are the encoded `FileDescriptorSet`s `weir-build` writes
//! (`Builder::file_descriptor_set_path`), registered on a
//! [`ReflectionBuilder`]. Answers follow gRPC's reflection protocol: a file
//! comes with every file it imports (transitively), each as a serialized
//! `FileDescriptorProto`; an unknown file or symbol is an error response
//! with NOT_FOUND, and the stream goes on.
//!
//! ```no_run
//! # fn run() -> Result<(), weir_services::reflection::ReflectionError> {
//! # const MY_DESCRIPTORS: &[u8] = &[];
//! use weir_services::reflection::ReflectionBuilder;
//! let reflection = ReflectionBuilder::new()
//!     .register_encoded_file_descriptor_set(MY_DESCRIPTORS)
//!     .build_v1()?;
//! # let _ = reflection; Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
use weir_rt::{Code, Request, Response, Status, Streaming};

use crate::pb::reflection_v1 as v1;
use crate::pb::reflection_v1alpha as v1alpha;
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;

/// A descriptor set that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectionError(String);

impl std::fmt::Display for ReflectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid file descriptor set: {}", self.0)
    }
}

impl std::error::Error for ReflectionError {}

/// Collects descriptor sets and builds the reflection services.
#[derive(Debug, Clone)]
pub struct ReflectionBuilder {
    sets: Vec<Bytes>,
    only: Option<Vec<String>>,
}

impl Default for ReflectionBuilder {
    fn default() -> Self {
        ReflectionBuilder::new()
    }
}

impl ReflectionBuilder {
    /// A builder that already knows this crate's own services (health,
    /// reflection and channelz).
    pub fn new() -> Self {
        ReflectionBuilder { sets: vec![Bytes::from_static(crate::FILE_DESCRIPTOR_SET)], only: None }
    }

    /// Adds an encoded `FileDescriptorSet` (what `weir-build` writes with
    /// `file_descriptor_set_path`, typically `include_bytes!`d).
    pub fn register_encoded_file_descriptor_set(mut self, set: &[u8]) -> Self {
        self.sets.push(Bytes::copy_from_slice(set));
        self
    }

    /// Lists only the named services (full names) in `list_services`; by
    /// default every service of the registered files is listed.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.only.get_or_insert_with(Vec::new).push(name.into());
        self
    }

    fn index(&self) -> Result<Arc<Index>, ReflectionError> {
        let mut index = Index::default();
        for set in &self.sets {
            let set = FileDescriptorSet::decode(&set[..]).map_err(|e| ReflectionError(e.to_string()))?;
            for file in set.file {
                index.add_file(file);
            }
        }
        if let Some(only) = &self.only {
            index.services.retain(|s| only.contains(s));
        }
        Ok(Arc::new(index))
    }

    /// The `grpc.reflection.v1.ServerReflection` service.
    pub fn build_v1(
        &self,
    ) -> Result<v1::server_reflection_server::ServerReflectionServer<ReflectionV1>, ReflectionError> {
        Ok(v1::server_reflection_server::ServerReflectionServer::new(ReflectionV1 { index: self.index()? }))
    }

    /// The `grpc.reflection.v1alpha.ServerReflection` service (what older
    /// clients, grpcio's reflection database among them, ask for).
    pub fn build_v1alpha(
        &self,
    ) -> Result<v1alpha::server_reflection_server::ServerReflectionServer<ReflectionV1Alpha>, ReflectionError>
    {
        Ok(v1alpha::server_reflection_server::ServerReflectionServer::new(ReflectionV1Alpha {
            index: self.index()?,
        }))
    }
}

/// What the registered files define.
#[derive(Default, Debug)]
struct Index {
    /// File name → serialized `FileDescriptorProto`.
    files: HashMap<String, Bytes>,
    /// File name → the files it imports.
    imports: HashMap<String, Vec<String>>,
    /// Fully qualified symbol → the file defining it.
    symbols: HashMap<String, String>,
    /// Service full names, sorted.
    services: Vec<String>,
    /// Extended message (fully qualified) → (field number, defining file).
    extensions: HashMap<String, Vec<(i32, String)>>,
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() { name.to_owned() } else { format!("{scope}.{name}") }
}

impl Index {
    fn add_file(&mut self, file: FileDescriptorProto) {
        let name = file.name().to_owned();
        let package = file.package().to_owned();
        for m in &file.message_type {
            self.add_message(&name, &package, m);
        }
        for e in &file.enum_type {
            self.add_enum(&name, &package, e);
        }
        for s in &file.service {
            let service = qualify(&package, s.name());
            for m in &s.method {
                self.symbols.insert(qualify(&service, m.name()), name.clone());
            }
            self.symbols.insert(service.clone(), name.clone());
            if let Err(at) = self.services.binary_search(&service) {
                self.services.insert(at, service);
            }
        }
        for x in &file.extension {
            self.add_extension(&name, &package, x);
        }
        self.imports.insert(name.clone(), file.dependency.clone());
        self.files.insert(name, Bytes::from(file.encode_to_vec()));
    }

    fn add_message(&mut self, file: &str, scope: &str, m: &DescriptorProto) {
        let full = qualify(scope, m.name());
        for nested in &m.nested_type {
            self.add_message(file, &full, nested);
        }
        for e in &m.enum_type {
            self.add_enum(file, &full, e);
        }
        for x in &m.extension {
            self.add_extension(file, &full, x);
        }
        for f in &m.field {
            self.symbols.insert(qualify(&full, f.name()), file.to_owned());
        }
        self.symbols.insert(full, file.to_owned());
    }

    fn add_enum(&mut self, file: &str, scope: &str, e: &prost_types::EnumDescriptorProto) {
        // Enum values live in the enum's enclosing scope (protobuf's C++ rule).
        for v in &e.value {
            self.symbols.insert(qualify(scope, v.name()), file.to_owned());
        }
        self.symbols.insert(qualify(scope, e.name()), file.to_owned());
    }

    fn add_extension(&mut self, file: &str, scope: &str, x: &prost_types::FieldDescriptorProto) {
        self.symbols.insert(qualify(scope, x.name()), file.to_owned());
        let extendee = x.extendee().trim_start_matches('.').to_owned();
        self.extensions.entry(extendee).or_default().push((x.number(), file.to_owned()));
    }

    /// `file` and everything it imports, each once, `file` first.
    fn with_imports(&self, file: &str) -> Result<Vec<Bytes>, Status> {
        let mut order = vec![file.to_owned()];
        let mut seen = BTreeSet::from([file.to_owned()]);
        let mut i = 0;
        while i < order.len() {
            for dep in self.imports.get(&order[i]).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    order.push(dep.clone());
                }
            }
            i += 1;
        }
        order
            .iter()
            .map(|f| {
                self.files
                    .get(f)
                    .cloned()
                    .ok_or_else(|| not_found(format!("file {f:?} (imported) not registered")))
            })
            .collect()
    }

    fn file_response(&self, file: &str) -> Result<MessageResponse, Status> {
        let protos = self.with_imports(file)?;
        Ok(MessageResponse::FileDescriptorResponse(v1::FileDescriptorResponse {
            file_descriptor_proto: protos,
        }))
    }

    fn answer(&self, request: &MessageRequest) -> Result<MessageResponse, Status> {
        match request {
            MessageRequest::FileByFilename(name) => {
                if !self.files.contains_key(name) {
                    return Err(not_found(format!("file {name:?} not found")));
                }
                self.file_response(name)
            }
            MessageRequest::FileContainingSymbol(symbol) => {
                let symbol = symbol.trim_start_matches('.');
                let file = self
                    .symbols
                    .get(symbol)
                    .ok_or_else(|| not_found(format!("symbol {symbol:?} not found")))?;
                self.file_response(file)
            }
            MessageRequest::FileContainingExtension(x) => {
                let file = self
                    .extensions
                    .get(x.containing_type.trim_start_matches('.'))
                    .and_then(|list| list.iter().find(|(n, _)| *n == x.extension_number))
                    .map(|(_, file)| file.clone())
                    .ok_or_else(|| {
                        not_found(format!(
                            "extension {} of {:?} not found",
                            x.extension_number, x.containing_type
                        ))
                    })?;
                self.file_response(&file)
            }
            MessageRequest::AllExtensionNumbersOfType(ty) => {
                let ty = ty.trim_start_matches('.');
                if !self.symbols.contains_key(ty) {
                    return Err(not_found(format!("type {ty:?} not found")));
                }
                let mut numbers: Vec<i32> =
                    self.extensions.get(ty).into_iter().flatten().map(|(n, _)| *n).collect();
                numbers.sort_unstable();
                Ok(MessageResponse::AllExtensionNumbersResponse(v1::ExtensionNumberResponse {
                    base_type_name: ty.to_owned(),
                    extension_number: numbers,
                }))
            }
            MessageRequest::ListServices(_) => {
                Ok(MessageResponse::ListServicesResponse(v1::ListServiceResponse {
                    service: self
                        .services
                        .iter()
                        .map(|name| v1::ServiceResponse { name: name.clone() })
                        .collect(),
                }))
            }
        }
    }

    /// The response to one request: an answer or an error response.
    fn respond(&self, request: v1::ServerReflectionRequest) -> v1::ServerReflectionResponse {
        let answer = match &request.message_request {
            Some(r) => self.answer(r),
            None => Err(Status::new(Code::InvalidArgument, "empty reflection request")),
        };
        let message_response = answer.unwrap_or_else(|status| {
            MessageResponse::ErrorResponse(v1::ErrorResponse {
                error_code: status.code as i32,
                error_message: status.message,
            })
        });
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(message_response),
        }
    }
}

fn not_found(message: String) -> Status {
    Status::new(Code::NotFound, message)
}

/// The responses to one reflection stream: each request answered in order,
/// converted between the wire-identical v1 and v1alpha types by `convert`.
pub struct Replies<In, Out> {
    requests: Streaming<In>,
    index: Arc<Index>,
    convert: fn(&Index, In) -> Result<Out, Status>,
}

impl<In, Out> std::fmt::Debug for Replies<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies").finish_non_exhaustive()
    }
}

impl<In, Out> Stream for Replies<In, Out> {
    type Item = Result<Out, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.requests)
            .poll_next(cx)
            .map(|item| item.map(|request| request.and_then(|r| (this.convert)(&this.index, r))))
    }
}

/// Re-encodes a message as its wire-identical twin (v1 ⇄ v1alpha).
fn transcode<A: Message, B: Message + Default>(a: &A) -> Result<B, Status> {
    B::decode(&a.encode_to_vec()[..])
        .map_err(|e| Status::new(Code::Internal, format!("reflection transcoding: {e}")))
}

/// `grpc.reflection.v1.ServerReflection`, made by [`ReflectionBuilder::build_v1`].
#[derive(Debug)]
pub struct ReflectionV1 {
    index: Arc<Index>,
}

impl v1::server_reflection_server::ServerReflection for ReflectionV1 {
    type ServerReflectionInfoStream = Replies<v1::ServerReflectionRequest, v1::ServerReflectionResponse>;

    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1::ServerReflectionRequest>>,
    ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
        Ok(Response::new(Replies {
            requests: request.into_inner(),
            index: self.index.clone(),
            convert: |index, r| Ok(index.respond(r)),
        }))
    }
}

/// `grpc.reflection.v1alpha.ServerReflection`, made by
/// [`ReflectionBuilder::build_v1alpha`]: the same answers as v1.
#[derive(Debug)]
pub struct ReflectionV1Alpha {
    index: Arc<Index>,
}

impl v1alpha::server_reflection_server::ServerReflection for ReflectionV1Alpha {
    type ServerReflectionInfoStream =
        Replies<v1alpha::ServerReflectionRequest, v1alpha::ServerReflectionResponse>;

    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1alpha::ServerReflectionRequest>>,
    ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
        Ok(Response::new(Replies {
            requests: request.into_inner(),
            index: self.index.clone(),
            convert: |index, r| transcode(&index.respond(transcode(&r)?)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Arc<Index> {
        ReflectionBuilder::new().index().unwrap()
    }

    fn ask(index: &Index, r: MessageRequest) -> MessageResponse {
        let req = v1::ServerReflectionRequest { host: String::new(), message_request: Some(r) };
        index.respond(req).message_response.unwrap()
    }

    #[test]
    fn symbols_of_every_kind_are_indexed() {
        let index = index();
        for symbol in [
            "grpc.health.v1.Health",
            "grpc.health.v1.Health.Watch",
            "grpc.health.v1.HealthCheckRequest",
            "grpc.health.v1.HealthCheckResponse.ServingStatus",
            "grpc.health.v1.HealthCheckResponse.SERVING",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(index.symbols.contains_key(symbol), "{symbol}");
        }
        assert_eq!(
            index.services,
            [
                "grpc.channelz.v1.Channelz",
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"
            ]
        );
    }

    #[test]
    fn unknown_names_are_not_found_and_garbage_sets_are_rejected() {
        let index = index();
        let MessageResponse::ErrorResponse(e) =
            ask(&index, MessageRequest::FileContainingSymbol("no.Such".into()))
        else {
            panic!("an error response")
        };
        assert_eq!(e.error_code, Code::NotFound as i32);
        let err = ReflectionBuilder::new().register_encoded_file_descriptor_set(b"\xff\xff\xff").build_v1();
        assert!(err.is_err());
    }

    #[test]
    fn a_file_comes_with_its_imports() {
        let mut index = Index::default();
        let dep = FileDescriptorProto { name: Some("dep.proto".into()), ..Default::default() };
        let main = FileDescriptorProto {
            name: Some("main.proto".into()),
            package: Some("p".into()),
            dependency: vec!["dep.proto".into()],
            message_type: vec![DescriptorProto { name: Some("M".into()), ..Default::default() }],
            ..Default::default()
        };
        index.add_file(dep);
        index.add_file(main);
        let MessageResponse::FileDescriptorResponse(r) =
            ask(&index, MessageRequest::FileContainingSymbol("p.M".into()))
        else {
            panic!("a file response")
        };
        let names: Vec<String> = r
            .file_descriptor_proto
            .iter()
            .map(|b| FileDescriptorProto::decode(&b[..]).unwrap().name().to_owned())
            .collect();
        assert_eq!(names, ["main.proto", "dep.proto"]);
    }
}
