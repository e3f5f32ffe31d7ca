//! Generates the health and reflection services with weir-build (no protoc).
fn main() -> std::io::Result<()> {
    weir_build::configure().file_descriptor_set_path("services.bin").bytes([".grpc.reflection"]).compile(
        &[
            "proto/grpc/health/v1/health.proto",
            "proto/grpc/reflection/v1/reflection.proto",
            "proto/grpc/reflection/v1alpha/reflection.proto",
        ],
        &["proto"],
    )
}
