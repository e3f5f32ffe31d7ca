//! Shared by the HPACK tests and bench: reads the hpack-test-case corpus
//! (tests/data/hpack-test-case.tar.xz) and the RFC 7541 Appendix C examples.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One header block of a story.
pub struct Case {
    /// Sequence number within the story.
    pub seqno: u64,
    /// The encoded block.
    pub wire: Vec<u8>,
    /// The decoded header list, in order.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// `SETTINGS_HEADER_TABLE_SIZE` the encoder used from this block on.
    pub header_table_size: Option<usize>,
}

/// One story: blocks encoded by one encoder, in order.
pub struct Story {
    /// `<encoder>/story_NN.json`.
    pub path: String,
    /// The blocks, in order.
    pub cases: Vec<Case>,
}

/// Path of a file under `core/tests/data/`.
pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(name)
}

/// Every `fixtures/<encoder>/story_NN.json` of the corpus, sorted by path.
pub fn load_stories() -> Vec<Story> {
    let compressed = std::fs::read(data_path("hpack-test-case.tar.xz")).expect("read corpus");
    let mut tar_bytes = Vec::new();
    lzma_rs::xz_decompress(&mut compressed.as_slice(), &mut tar_bytes).expect("decompress corpus");
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut stories = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("entry path").to_string_lossy().into_owned();
        let Some(story_path) = story_path(&path) else {
            continue;
        };
        let mut json = String::new();
        entry.read_to_string(&mut json).expect("read story");
        stories.push(parse_story(story_path, &json));
    }
    stories.sort_by(|a, b| a.path.cmp(&b.path));
    stories
}

/// `<encoder>/story_NN.json` for a story file of the archive, else `None`.
fn story_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("fixtures/")?;
    let (encoder, file) = rest.split_once('/')?;
    let is_story = file.starts_with("story_") && file.ends_with(".json") && !file.contains('/');
    is_story.then(|| format!("{encoder}/{file}"))
}

fn parse_story(path: String, json: &str) -> Story {
    let story: Value = serde_json::from_str(json).expect("story JSON");
    let cases = story["cases"].as_array().expect("cases").iter().map(parse_case).collect();
    Story { path, cases }
}

fn parse_case(case: &Value) -> Case {
    let headers = case["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|header| {
            let object = header.as_object().expect("header object");
            assert_eq!(object.len(), 1, "one field per header object");
            let (name, value) = object.iter().next().expect("one field");
            (name.as_bytes().to_vec(), value.as_str().expect("string value").as_bytes().to_vec())
        })
        .collect();
    Case {
        seqno: case["seqno"].as_u64().expect("seqno"),
        wire: hex(case["wire"].as_str().expect("wire")),
        headers,
        header_table_size: case.get("header_table_size").and_then(Value::as_u64).map(|size| size as usize),
    }
}

/// Decodes a hex string.
pub fn hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit")).collect()
}

/// A header list as `(name, value)` pairs.
pub type HeaderList = Vec<(String, String)>;

/// One example of RFC 7541 Appendix C: blocks decoded in sequence.
pub struct Example {
    /// e.g. `C.3 requests (plain)`.
    pub name: String,
    /// Table size the example starts with.
    pub table_size: usize,
    /// `(wire, headers)` per block.
    pub blocks: Vec<(Vec<u8>, HeaderList)>,
}

/// The examples of RFC 7541 Appendix C (tests/data/rfc7541-appendix-c.json).
pub fn load_appendix_c() -> Vec<Example> {
    let json = std::fs::read_to_string(data_path("rfc7541-appendix-c.json")).expect("read appendix C");
    let examples: Value = serde_json::from_str(&json).expect("appendix C JSON");
    examples
        .as_array()
        .expect("list of examples")
        .iter()
        .map(|example| Example {
            name: example["name"].as_str().expect("name").to_owned(),
            table_size: example["table_size"].as_u64().expect("table_size") as usize,
            blocks: example["blocks"]
                .as_array()
                .expect("blocks")
                .iter()
                .map(|block| {
                    let headers = block["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .map(|pair| {
                            let name = pair[0].as_str().expect("name").to_owned();
                            (name, pair[1].as_str().expect("value").to_owned())
                        })
                        .collect();
                    (hex(block["wire"].as_str().expect("wire")), headers)
                })
                .collect(),
        })
        .collect()
}
