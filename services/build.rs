//! Generates the health, reflection and channelz services with weir-build
//! (no protoc; channelz's well-known types are prost-types').
//! `grpc.reflection.v1alpha` is the same protocol as `v1` under another
//! package: its .proto is derived from v1's here rather than kept twice.
fn main() -> std::io::Result<()> {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let v1 = std::fs::read_to_string("proto/grpc/reflection/v1/reflection.proto")?;
    let alpha_dir = out.join("proto/grpc/reflection/v1alpha");
    std::fs::create_dir_all(&alpha_dir)?;
    let alpha = v1
        .replace("grpc.reflection.v1;", "grpc.reflection.v1alpha;")
        .replace("(grpc.reflection.v1)", "(grpc.reflection.v1alpha)");
    assert!(alpha.contains("package grpc.reflection.v1alpha;"), "v1's package line moved");
    std::fs::write(alpha_dir.join("reflection.proto"), alpha)?;
    let generated = out.join("proto");
    weir_build::configure().file_descriptor_set_path("services.bin").bytes([".grpc.reflection"]).compile(
        &[
            std::path::Path::new("proto/grpc/health/v1/health.proto"),
            std::path::Path::new("proto/grpc/reflection/v1/reflection.proto"),
            std::path::Path::new("proto/grpc/channelz/v1/channelz.proto"),
            &generated.join("grpc/reflection/v1alpha/reflection.proto"),
        ],
        &[std::path::Path::new("proto"), &generated],
    )
}
