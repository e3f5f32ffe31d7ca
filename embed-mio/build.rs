//! The grpc.testing messages (no protoc, no service stubs: the loop answers
//! the methods itself), from the interop crate's protos.
fn main() -> std::io::Result<()> {
    weir_build::configure()
        .build_client(false)
        .build_server(false)
        .compile(&["../interop/proto/test.proto"], &["../interop/proto"])
}
