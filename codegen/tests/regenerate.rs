//! Cargo is told to rerun the build script when any `.proto` the compilation
//! read changes, imports included: changing an imported `.proto` regenerates.

use std::path::{Path, PathBuf};

/// A fresh directory under the target dir for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("weir-build-regenerate-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["proto", "shared/common", "out"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    dir
}

/// What a build script does, with its `cargo:` lines collected instead of
/// printed: compiles `proto/main.proto` with two include directories.
fn build_script(dir: &Path) -> Vec<String> {
    weir_build::configure()
        .out_dir(dir.join("out"))
        .generate(&[dir.join("proto/main.proto")], &[dir.join("proto"), dir.join("shared")])
        .unwrap()
        .rerun_if_changed_lines()
}

fn rerun_line(path: PathBuf) -> String {
    format!("cargo:rerun-if-changed={}", path.display())
}

const MAIN: &str = "syntax = \"proto3\";
package app;
import \"common/types.proto\";
import \"google/protobuf/empty.proto\";
message Request { common.Thing thing = 1; }
service Svc { rpc Call(Request) returns (google.protobuf.Empty); }
";

const BASE: &str = "syntax = \"proto3\";
package common;
message Base { int64 id = 1; }
";

const TYPES_V1: &str = "syntax = \"proto3\";
package common;
import \"common/base.proto\";
message Thing { Base base = 1; }
";

const TYPES_V2: &str = "syntax = \"proto3\";
package common;
import \"common/base.proto\";
message Thing { Base base = 1; string added_later = 2; }
";

#[test]
fn changing_an_imported_proto_regenerates() {
    let dir = temp_dir("imported");
    std::fs::write(dir.join("proto/main.proto"), MAIN).unwrap();
    // Imported from the second include directory, and importing a file that
    // lives in the first one.
    std::fs::write(dir.join("shared/common/types.proto"), TYPES_V1).unwrap();
    std::fs::create_dir_all(dir.join("proto/common")).unwrap();
    std::fs::write(dir.join("proto/common/base.proto"), BASE).unwrap();

    let lines = build_script(&dir);
    // Every file read, each at the include directory that holds it, imports
    // first; google/protobuf/empty.proto is built into protox, not a file.
    assert_eq!(
        lines,
        [
            rerun_line(dir.join("proto").join("common/base.proto")),
            rerun_line(dir.join("shared").join("common/types.proto")),
            rerun_line(dir.join("proto").join("main.proto")),
        ]
    );
    for line in &lines {
        let path = line.strip_prefix("cargo:rerun-if-changed=").unwrap();
        assert!(Path::new(path).is_file(), "{path} does not exist");
    }
    let generated = dir.join("out/common.rs");
    let before = std::fs::read_to_string(&generated).unwrap();
    assert!(!before.contains("added_later"));

    // Edit the imported file: cargo reruns the build script because the file
    // is one of the rerun-if-changed paths; the second run regenerates.
    std::fs::write(dir.join("shared/common/types.proto"), TYPES_V2).unwrap();
    let changed = rerun_line(dir.join("shared").join("common/types.proto"));
    assert!(lines.contains(&changed), "cargo would not rerun the build script: {lines:?}");
    let lines_again = build_script(&dir);
    let after = std::fs::read_to_string(&generated).unwrap();
    assert_ne!(before, after);
    assert!(after.contains("pub added_later: ::prost::alloc::string::String"), "{after}");
    assert_eq!(lines_again, lines);
}

#[test]
fn generate_reports_the_files_read() {
    let dir = temp_dir("inputs");
    std::fs::write(dir.join("proto/main.proto"), MAIN).unwrap();
    std::fs::write(dir.join("shared/common/types.proto"), TYPES_V1).unwrap();
    // base.proto in the second include directory this time.
    std::fs::write(dir.join("shared/common/base.proto"), BASE).unwrap();
    let generated = weir_build::configure()
        .out_dir(dir.join("out"))
        .generate(&[dir.join("proto/main.proto")], &[dir.join("proto"), dir.join("shared")])
        .unwrap();
    assert_eq!(
        generated.inputs(),
        [
            dir.join("shared/common/base.proto"),
            dir.join("shared/common/types.proto"),
            dir.join("proto/main.proto")
        ]
    );
}
