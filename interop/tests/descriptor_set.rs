//! interop/node/grpc_testing.binpb, the FileDescriptorSet the Node gRPC-Web
//! client (interop/node/web_client.js) builds its TestService from at run
//! time, is the one weir-build writes for interop/proto now.
//!
//! After a change to interop/proto, rewrite it with
//! `WEIR_WRITE_FIXTURES=1 cargo test -p weir-interop --test descriptor_set`.

use std::path::Path;

#[test]
fn the_node_clients_descriptor_set_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/grpc_testing.binpb");
    let want = weir_interop::FILE_DESCRIPTOR_SET;
    if std::env::var_os("WEIR_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, want).expect("write the descriptor set");
    }
    let have = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        have == want,
        "{} ({} bytes) is not the FileDescriptorSet of interop/proto ({} bytes): rewrite it with \
         `WEIR_WRITE_FIXTURES=1 cargo test -p weir-interop --test descriptor_set`",
        path.display(),
        have.len(),
        want.len()
    );
}
