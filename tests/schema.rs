//! The JSON report and the ndjson notices are a published interface: scripts and dashboards
//! read them by key. These tests pin every key path (objects' keys, recursively, the elements
//! of an array merged) in the order the keys are written, against committed lists in
//! tests/schema/, so a field renamed, dropped or moved fails here rather than in someone's
//! pipeline. A change made on purpose rewrites the lists: `REQTRAIL_BLESS=1 cargo test --test
//! schema`, then the diff of tests/schema/ is the interface change to review (and to note in
//! the README, with a new `schema_version` when a field goes or changes meaning).

mod common;
use common::{run, sample, Tmp};

use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value that keeps its objects' keys in the order they were written (serde_json's
/// `Value` sorts them).
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut keys = Vec::new();
                while let Some(kv) = m.next_entry::<String, Node>()? {
                    keys.push(kv);
                }
                Ok(Node::Object(keys))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = s.next_element::<Node>()? {
                    items.push(n);
                }
                Ok(Node::Array(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

/// Maps whose keys are data, not schema: their keys are written as `*`.
const DATA_KEYED: &[&str] = &[
    "requests.status",
    "edge.status",
    "edge.edges",
    "edge.causes",
];

/// Adds the key paths of `n` (under `at`) to `paths`, each the first time it is seen.
fn key_paths(n: &Node, at: &str, paths: &mut Vec<String>) {
    match n {
        Node::Object(keys) => {
            for (k, v) in keys {
                let k = if DATA_KEYED.contains(&at) { "*" } else { k };
                let p = if at.is_empty() {
                    k.to_string()
                } else {
                    format!("{at}.{k}")
                };
                if !paths.contains(&p) {
                    paths.push(p.clone());
                }
                key_paths(v, &p, paths);
            }
        }
        Node::Array(items) => {
            for v in items {
                key_paths(v, &format!("{at}[]"), paths);
            }
        }
        Node::Leaf => {}
    }
}

/// Compares `paths` with tests/schema/`name`, or rewrites it under `REQTRAIL_BLESS=1`.
fn same_as_committed(name: &str, paths: &[String]) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schema")
        .join(name);
    let now = paths.join("\n") + "\n";
    if std::env::var_os("REQTRAIL_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &now).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed != now {
        let was: Vec<&str> = committed.lines().collect();
        let is: Vec<&str> = now.lines().collect();
        let gone: Vec<&&str> = was.iter().filter(|p| !is.contains(p)).collect();
        let new: Vec<&&str> = is.iter().filter(|p| !was.contains(p)).collect();
        panic!(
            "the key paths of {name} changed (REQTRAIL_BLESS=1 rewrites the list when that is \
             meant)\n  gone: {gone:?}\n  new: {new:?}\n  (same keys, another order, if both \
             are empty)"
        );
    }
}

/// A request still open at the end of its input: the only way to a non-empty `in_flight`.
const OPEN_AT_END: &str = "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /admin/ \
                           from 10.1.1.1 Host: app.example.com\n";

/// The inputs whose reports together reach every field: each bundled sample's files alone
/// (with a public host named) and each scenario's files merged, the edge captures, then a
/// request open at the end.
fn inputs(tmp: &Tmp) -> Vec<Vec<String>> {
    let scenarios = [
        "allowed_hosts",
        "boot_failure",
        "boot_failure_race",
        "gthread",
        "healthy",
        "json_logging",
        "worker_timeout",
    ];
    let mut runs = Vec::new();
    for s in scenarios {
        for f in ["docker.log", "docker-timestamps.log", "kubectl.log"] {
            runs.push(vec![
                "--public-host".to_string(),
                "app.example.com".to_string(),
                sample(s, f),
            ]);
        }
        let dir = Path::new(&sample(s, "docker.log"))
            .parent()
            .unwrap()
            .to_owned();
        runs.push(vec![dir.to_str().unwrap().to_string()]);
    }
    // nginx in front: every field of the edge object.
    for s in [
        "edge_healthy",
        "edge_timeout_short",
        "edge_timeout_long",
        "edge_boot_failure",
        "edge_allowed_hosts",
    ] {
        runs.push(vec![sample(s, "compose.log")]);
    }
    runs.push(vec![tmp.file("open.log", OPEN_AT_END.as_bytes())]);
    runs
}

fn parsed(line: &str) -> Node {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn the_json_report_keeps_its_keys() {
    let tmp = Tmp::new("schema-json");
    let mut paths = Vec::new();
    for args in inputs(&tmp) {
        let mut argv = vec!["--format", "json"];
        argv.extend(args.iter().map(String::as_str));
        let (_, out, err) = run(&argv);
        assert!(!out.is_empty(), "{args:?}: {err}");
        key_paths(&parsed(&out), "", &mut paths);
    }
    same_as_committed("report-keys.txt", &paths);
}

#[test]
fn the_ndjson_notices_keep_their_keys() {
    let tmp = Tmp::new("schema-ndjson");
    // Per kind of notice (`request`, `alert`), under its name; the closing report line apart.
    let mut paths = Vec::new();
    let mut report_paths = Vec::new();
    for args in inputs(&tmp) {
        let mut argv = vec!["--format", "ndjson"];
        argv.extend(args.iter().map(String::as_str));
        let (_, out, err) = run(&argv);
        assert!(!out.is_empty(), "{args:?}: {err}");
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let kind = v["type"].as_str().expect("a type").to_string();
            if kind == "report" {
                key_paths(&parsed(line), "", &mut report_paths);
            } else {
                key_paths(&parsed(line), &kind, &mut paths);
            }
        }
    }
    same_as_committed("ndjson-keys.txt", &paths);
    if std::env::var_os("REQTRAIL_BLESS").is_some() {
        return; // the JSON report's list may be being rewritten at this moment
    }
    // The closing line is the JSON report with `type` first.
    let mut json = vec!["type".to_string()];
    json.extend(
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/report-keys.txt"),
        )
        .unwrap()
        .lines()
        .map(String::from),
    );
    assert_eq!(
        report_paths, json,
        "the ndjson report line is the JSON report"
    );
}
