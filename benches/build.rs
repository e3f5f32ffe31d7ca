//! Generates the bench protos twice: for Weir (weir-build) and for tonic
//! (tonic-prost-build fed by protox, so neither needs protoc).
fn main() -> std::io::Result<()> {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    // helloworld.proto is the examples' own (one copy of the classic).
    let protos = ["../examples/proto/helloworld.proto", "proto/bench.proto"];
    let weir_dir = out.join("weir");
    let tonic_dir = out.join("tonic");
    std::fs::create_dir_all(&weir_dir)?;
    std::fs::create_dir_all(&tonic_dir)?;
    // Both stacks get `bytes::Bytes` for bytes fields: cloning a chunk is then
    // a refcount, so the streaming numbers measure the transports.
    weir_build::configure()
        .out_dir(&weir_dir)
        .bytes(["."])
        .compile(&protos, &["proto", "../examples/proto"])?;
    let fds = protox::compile(protos, ["proto", "../examples/proto"])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tonic_prost_build::configure().out_dir(&tonic_dir).bytes(".").compile_fds(fds)
}
