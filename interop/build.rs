//! Generates the grpc.testing messages and TestService stubs (no protoc).
fn main() -> std::io::Result<()> {
    weir_build::compile_protos(&["proto/test.proto"], &["proto"])
}
