//! [`include_proto!`](crate::include_proto!): the code `weir-build` generated
//! for a protobuf package, included into a module.

/// Includes the Rust code `weir-build` generated for a protobuf package: the
/// file `<package>.rs` in the crate's `OUT_DIR`, where a `build.rs` calling
/// `weir_build::compile_protos` (or `weir_build::configure()...compile`)
/// writes one file per package.
///
/// The argument is the package name as the `.proto` declares it
/// (`package helloworld;` → `"helloworld"`, `package kitchen.sink;` →
/// `"kitchen.sink"`); a file without a `package` is generated as `_.rs`
/// (`include_proto!("_")`).
///
/// ```ignore
/// // build.rs: weir_build::compile_protos(&["proto/helloworld.proto"], &["proto"])
/// pub mod helloworld {
///     weir_rt::include_proto!("helloworld");
/// }
///
/// use helloworld::greeter_client::GreeterClient;
/// use helloworld::HelloRequest;
/// ```
///
/// It expands to `include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"))`.
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}
