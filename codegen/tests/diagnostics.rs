//! A `.proto` that does not compile fails with `path:LINE:COL: message` and
//! the offending line with a caret under the spot, not protox's bare message.

use std::io;
use std::path::{Path, PathBuf};

/// A fresh directory under the target dir for one test, with `proto/` (the
/// include directory) and `out/`.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("weir-build-diagnostics-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("proto")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    dir
}

/// Writes `files` under `dir/proto` and compiles the first one.
fn compile(dir: &Path, files: &[(&str, &str)]) -> io::Error {
    let proto = dir.join("proto");
    for (name, text) in files {
        std::fs::write(proto.join(name), text).unwrap();
    }
    weir_build::configure()
        .out_dir(dir.join("out"))
        .skip_rerun_if_changed()
        .compile(&[proto.join(files[0].0)], &[&proto])
        .expect_err("the proto must not compile")
}

/// `dir/proto/<name>`, as the reports spell it.
fn path(dir: &Path, name: &str) -> String {
    dir.join("proto").join(name).display().to_string()
}

#[test]
fn parse_error_reports_line_column_and_snippet() {
    let dir = temp_dir("parse");
    let err = compile(
        &dir,
        &[("broken.proto", "syntax = \"proto3\";\npackage p;\n\nmessage A {\n  string name = 1\n}\n")],
    );
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let text = err.to_string();
    let expected = format!(
        "{}:6:1: expected ';' or '[', but found '}}'\n  |\n6 | }}\n  | ^ found here",
        path(&dir, "broken.proto")
    );
    assert_eq!(text, expected);
    // A build script returning io::Result shows the error's Debug: the report
    // must be in it as written (real line breaks, no escaped quotes).
    let debug = format!("{err:?}");
    assert!(debug.contains(&expected), "{debug}");
}

#[test]
fn every_parse_error_is_reported() {
    let dir = temp_dir("parse-several");
    let err = compile(
        &dir,
        &[(
            "broken.proto",
            "syntax = \"proto3\";\npackage p;\nmessage A {\n  string name = 1 2;\n}\n\
             message B {\n  int32 x = 99999999999999999999;\n}\n",
        )],
    );
    let text = err.to_string();
    let file = path(&dir, "broken.proto");
    assert!(
        text.starts_with(&format!(
            "{file}:4:19: expected ';' or '[', but found '2'\n  |\n4 |   string name = 1 2;\n  |                   ^ found here\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{file}:7:13: integer is too large\n  |\n7 |   int32 x = 99999999999999999999;\n  |             ^^^^^^^^^^^^^^^^^^^^ integer defined here"
        )),
        "{text}"
    );
}

#[test]
fn unknown_type_is_reported_where_it_is_used() {
    let dir = temp_dir("unknown-type");
    let err = compile(
        &dir,
        &[("broken.proto", "syntax = \"proto3\";\npackage p;\n\nmessage A {\n  Missing name = 1;\n}\n")],
    );
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let expected = format!(
        "{}:5:3: name 'Missing' is not defined\n  |\n5 |   Missing name = 1;\n  |   ^^^^^^^ found here",
        path(&dir, "broken.proto")
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn semantic_error_heading_is_the_errors_own_spot_not_its_last_label() {
    // Two labels: the use (the error) and the service's definition further
    // down; the heading points at the use.
    let dir = temp_dir("wrong-kind");
    let err = compile(
        &dir,
        &[("broken.proto", "syntax = \"proto3\";\npackage p;\n\nmessage A {\n  S s = 1;\n}\nservice S {}\n")],
    );
    let expected = format!(
        "{}:5:3: 'p.S' is not a message or enum type\n  |\n5 |   S s = 1;\n  |   ^ found here\n\
         7 | service S {{}}\n  |         ^ defined here",
        path(&dir, "broken.proto")
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn duplicate_field_number_points_at_the_second_use() {
    let dir = temp_dir("duplicate");
    let err = compile(
        &dir,
        &[(
            "broken.proto",
            "syntax = \"proto3\";\npackage p;\nmessage A {\n  string name = 1;\n  int32 other = 1;\n}\n",
        )],
    );
    let expected = format!(
        "{}:5:17: field number '1' is already used\n  |\n4 |   string name = 1;\n  |                 ^ first defined here\n\
         5 |   int32 other = 1;\n  |                 ^ defined again here",
        path(&dir, "broken.proto")
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn missing_import_points_at_the_import_line() {
    let dir = temp_dir("missing-import");
    let err = compile(
        &dir,
        &[("broken.proto", "syntax = \"proto3\";\npackage p;\nimport \"nope/other.proto\";\nmessage A {}\n")],
    );
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let expected = format!(
        "{}:3:1: import 'nope/other.proto' not found\n  |\n3 | import \"nope/other.proto\";\n  \
         | ^^^^^^^^^^^^^^^^^^^^^^^^^^ imported here\n  = note: include directories searched: {}",
        path(&dir, "broken.proto"),
        dir.join("proto").display()
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn error_in_an_imported_file_names_that_file() {
    let dir = temp_dir("in-import");
    let err = compile(
        &dir,
        &[
            (
                "main.proto",
                "syntax = \"proto3\";\npackage p;\nimport \"dep.proto\";\nmessage A {\n  B b = 1;\n}\n",
            ),
            ("dep.proto", "syntax = \"proto3\";\npackage p;\nmessage B { C c = 1; }\n"),
        ],
    );
    let expected = format!(
        "{}:3:13: name 'C' is not defined\n  |\n3 | message B {{ C c = 1; }}\n  |             ^ found here",
        path(&dir, "dep.proto")
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn missing_listed_file_says_not_found() {
    let dir = temp_dir("missing-listed");
    let err = weir_build::configure()
        .out_dir(dir.join("out"))
        .skip_rerun_if_changed()
        .compile(&["nothere.proto"], &[dir.join("proto")])
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!(
            "nothere.proto: file not found\n  = note: include directories searched: {}",
            dir.join("proto").display()
        )
    );
}

#[test]
fn tabs_keep_the_caret_under_the_spot() {
    let dir = temp_dir("tabs");
    let err =
        compile(&dir, &[("broken.proto", "syntax = \"proto3\";\nmessage A {\n\tstring\tname = 1\n}\n")]);
    let expected = format!(
        "{}:4:1: expected ';' or '[', but found '}}'\n  |\n4 | }}\n  | ^ found here",
        path(&dir, "broken.proto")
    );
    assert_eq!(err.to_string(), expected);
    let err =
        compile(&dir, &[("broken.proto", "syntax = \"proto3\";\nmessage A {\n\tstring\tname = x;\n}\n")]);
    let text = err.to_string();
    assert!(text.contains("3 | \tstring\tname = x;\n  | \t      \t       ^ found here"), "{text}");
}

#[test]
fn help_follows_the_snippet() {
    let dir = temp_dir("help");
    let err = compile(&dir, &[("broken.proto", "syntax = \"proto3\";\nenum E {\n  A = 0;\n  B = 0;\n}\n")]);
    let text = err.to_string();
    let file = path(&dir, "broken.proto");
    assert!(text.starts_with(&format!("{file}:4:7: ")), "{text}");
    assert!(text.ends_with("4 |   B = 0;\n  |       ^ defined again here\n  = help: set the 'allow_alias' option allow re-using enum numbers"), "{text}");
}
