//! Generates the example protos with weir-build (no protoc needed).
fn main() -> std::io::Result<()> {
    weir_build::configure().file_descriptor_set_path("descriptors.bin").compile(
        &[
            "proto/helloworld.proto",
            "proto/route_guide.proto",
            "proto/chat.proto",
            "proto/kitchen/sink.proto",
        ],
        &["proto"],
    )
}
