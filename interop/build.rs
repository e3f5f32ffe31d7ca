//! Generates the grpc.testing messages and TestService stubs (no protoc),
//! and writes their FileDescriptorSet to `$OUT_DIR/grpc_testing.binpb`
//! (`weir_interop::FILE_DESCRIPTOR_SET`; the Node gRPC-Web client reads a
//! committed copy, interop/node/grpc_testing.binpb, that a test keeps current).
fn main() -> std::io::Result<()> {
    weir_build::configure()
        .file_descriptor_set_path("grpc_testing.binpb")
        .compile(&["proto/test.proto"], &["proto"])
}
