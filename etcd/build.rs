//! Generates etcd's KV, Watch, Lease and Auth clients with weir-build (no
//! protoc).
fn main() -> std::io::Result<()> {
    weir_build::configure()
        .build_server(false)
        .compile(&["proto/etcdserverpb/rpc.proto", "proto/mvccpb/kv.proto"], &["proto"])
}
