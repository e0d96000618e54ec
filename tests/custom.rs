//! A team's own request-logging wording, declared as regexes, gives the same answers as the
//! built-in wording: a real capture is reworded line by line and analysed both ways.

mod common;
use common::run;

use std::path::Path;

use serde_json::Value;

/// `INCOMING REQUEST: GET /x from 1.2.3.4 Host: h` → `--> GET /x via 1.2.3.4 host=h`, and
/// `RESPONSE: GET /x -> 200` → `<-- 200 GET /x`.
fn reword(line: &str) -> String {
    if let Some((head, rest)) = line.split_once("INCOMING REQUEST: ") {
        let (req, host) = rest.rsplit_once(" Host: ").unwrap();
        let (req, client) = req.rsplit_once(" from ").unwrap();
        return format!("{head}--> {req} via {client} host={host}");
    }
    if let Some((head, rest)) = line.split_once("RESPONSE: ") {
        let (req, status) = rest.rsplit_once(" -> ").unwrap();
        return format!("{head}<-- {status} {req}");
    }
    line.to_string()
}

#[test]
fn reworded_capture_reads_the_same_with_patterns() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let tmp = std::env::temp_dir().join(format!("reqtrail-custom-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for scenario in ["allowed_hosts", "worker_timeout", "healthy"] {
        let original = dir.join(scenario).join("docker.log");
        let text = String::from_utf8_lossy(&std::fs::read(&original).unwrap()).into_owned();
        let reworded: String = text.lines().map(|l| reword(l) + "\n").collect();
        assert_ne!(reworded, text);
        let file = tmp.join(format!("{scenario}.log"));
        std::fs::write(&file, &reworded).unwrap();
        let settings = tmp.join("reqtrail.toml");
        std::fs::write(
            &settings,
            r#"public_hosts = ["app.example.com"]
request_start = ['^--> (?P<method>[A-Z]+) (?P<path>\S+) via (?P<client>\S+) host=(?P<host>.*)$']
request_end = ['^<-- (?P<status>\d{3}) (?P<method>[A-Z]+) (?P<path>\S+)$']
"#,
        )
        .unwrap();
        let json = |args: &[&str]| -> (i32, Value) {
            let (code, out, err) = run(args);
            (
                code,
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}")),
            )
        };
        let (code_a, a) = json(&[
            "--format",
            "json",
            "--public-host",
            "app.example.com",
            original.to_str().unwrap(),
        ]);
        let (code_b, b) = json(&[
            "--format",
            "json",
            "--config",
            settings.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert_eq!(code_a, code_b, "{scenario}");
        assert_eq!(a["requests"], b["requests"], "{scenario}");
        assert_eq!(a["disallowed_hosts"], b["disallowed_hosts"], "{scenario}");
        let paths = |r: &Value| -> Vec<Value> {
            r["orphans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["path"].clone())
                .collect()
        };
        assert_eq!(paths(&a), paths(&b), "{scenario}");
        assert_eq!(b["input"]["unrecognized"], 0, "{scenario}");
        // Without the patterns the reworded lines are not requests at all.
        let (_, c) = json(&["--format", "json", file.to_str().unwrap()]);
        assert_ne!(c["requests"], a["requests"], "{scenario}");
        // …and the report says why, and which option would fix it.
        let hint = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "no_request_lines")
            .unwrap_or_else(|| panic!("{scenario}: {}", c["findings"]));
        assert!(hint["fix"].as_str().unwrap().contains("--request-start"));
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn a_bad_pattern_is_a_usage_error() {
    let (code, out, err) = run(&[
        "--request-end",
        "^done (?P<method>\\S+) (?P<path>\\S+)$",
        "-",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("status"), "{err}");
    let (code, _, err) = run(&["--request-start", "(?P<verb>x)(?P<path>y)"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown group 'verb'"), "{err}");
}
