//! End-to-end: reqtrail's JSON and exit code against what the client saw.
//!
//! Every scenario under `sample-logs/` was captured from a real gunicorn serving a real Django
//! app (scripts/capture.sh), with `truth.json` written from the client's side: each request
//! sent and the status it got back. The expectations below are derived from that truth by
//! rules, never typed in, so the same test judges a fresh capture: CI sets
//! `REQTRAIL_CAPTURE_DIR` to a directory it has just captured and both sets are checked.

mod common;
use common::run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

const VARIANTS: &[&str] = &["docker.log", "docker-timestamps.log", "kubectl.log"];

/// The app's captures; the edge_* ones (app.log beside an edge's logs) are tests/edge.rs's.
fn scenario_dirs() -> Vec<PathBuf> {
    common::capture_dirs("docker.log", 4)
}

/// Python's `repr()` of a str, without the quotes, as Django prints a rejected host.
fn py_repr_inner(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn domain(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((d, p)) if p.chars().all(|c| c.is_ascii_digit()) => d.to_lowercase(),
        _ => host.to_lowercase(),
    }
}

/// What the logs must show, derived from the client's side of one scenario.
struct Expected {
    total: u64,
    kinds: BTreeMap<String, u64>,
    status: BTreeMap<String, u64>,
    /// Requests that outlived gunicorn's timeout: killed by WORKER TIMEOUT.
    timed_out: Vec<String>,
    /// Rejected hosts as Django prints them → count.
    rejected: BTreeMap<String, u64>,
    public_host: String,
    public_rejected: bool,
    public_accepted: bool,
    probes: Vec<Option<u64>>,
    boot_failed: bool,
}

fn expected(truth: &Value) -> Expected {
    let timeout_ms = truth["gunicorn_timeout"].as_f64().unwrap() * 1000.0;
    let allowed: Vec<String> = truth["allowed_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_lowercase())
        .collect();
    let public_host = truth["public_host"].as_str().unwrap().to_string();
    let mut e = Expected {
        total: 0,
        kinds: BTreeMap::new(),
        status: BTreeMap::new(),
        timed_out: Vec::new(),
        rejected: BTreeMap::new(),
        public_host: public_host.clone(),
        public_rejected: false,
        public_accepted: false,
        probes: Vec::new(),
        boot_failed: truth["boot_failed"].as_bool().unwrap(),
    };
    for r in truth["requests"].as_array().unwrap() {
        let status = r["status"].as_u64();
        // The app saw it if the client got an HTTP answer or the connection was dropped mid-way.
        let reached = status.is_some() || r["error"].as_str() == Some("connection closed");
        if !reached || !r["reaches_app"].as_bool().unwrap() {
            continue;
        }
        e.total += 1;
        let kind = r["kind"].as_str().unwrap().to_string();
        *e.kinds.entry(kind.clone()).or_default() += 1;
        if kind == "probe" {
            e.probes.push(status);
        }
        if let Some(s) = status {
            *e.status.entry(s.to_string()).or_default() += 1;
        }
        if r["elapsed_ms"].as_f64().unwrap() >= timeout_ms {
            e.timed_out.push(r["path"].as_str().unwrap().to_string());
        }
        let host = r["host"].as_str().unwrap();
        let bypassed = kind == "probe" && status.is_some_and(|s| s < 400);
        if status == Some(400) && !allowed.contains(&domain(host)) && !bypassed {
            *e.rejected.entry(py_repr_inner(host)).or_default() += 1;
            if domain(host) == public_host {
                e.public_rejected = true;
            }
        }
        if domain(host) == public_host && status.is_some_and(|s| s < 400) {
            e.public_accepted = true;
        }
    }
    e.timed_out.sort();
    e
}

fn check_status(report: &Value, id: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("check {id} missing"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn verify(dir: &Path, variant: &str) -> Value {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let e = expected(&truth);
    let file = dir.join(variant);
    let file_s = file.to_str().unwrap();
    let (code, stdout, stderr) =
        run(&["--format", "json", "--public-host", &e.public_host, file_s]);
    let ctx = format!("{file_s}: stderr {stderr}");
    let r: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{ctx}: bad JSON {err}"));
    assert_eq!(r["schema_version"], 1);

    // Every line counted, every line of a real capture recognised.
    let bytes = std::fs::read(&file).unwrap();
    let lines = bytes.iter().filter(|&&c| c == b'\n').count() as u64
        + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"));
    let input = &r["input"];
    assert_eq!(input["lines"].as_u64().unwrap(), lines, "{ctx}");
    assert_eq!(
        input["recognized"].as_u64().unwrap() + input["unrecognized"].as_u64().unwrap(),
        lines,
        "{ctx}"
    );
    assert_eq!(
        input["unrecognized"], 0,
        "{ctx}: samples {}",
        input["unrecognized_samples"]
    );

    // Server facts.
    let server = &r["server"];
    assert_eq!(
        server["gunicorn_version"], truth["gunicorn_version"],
        "{ctx}"
    );
    assert_eq!(server["worker_class"], truth["worker_class"], "{ctx}");
    assert_eq!(
        server["boot_failed"].as_bool().unwrap(),
        e.boot_failed,
        "{ctx}"
    );
    assert_eq!(
        server["worker_timeouts"].as_u64().unwrap(),
        e.timed_out.len() as u64,
        "{ctx}"
    );
    assert_eq!(
        server["oom_suspected"], 0,
        "{ctx}: a kill after a timeout is not OOM"
    );

    // Requests.
    let q = &r["requests"];
    assert_eq!(q["total"].as_u64().unwrap(), e.total, "{ctx}: {q}");
    for kind in ["probe", "health", "external"] {
        assert_eq!(
            q[kind].as_u64().unwrap(),
            e.kinds.get(kind).copied().unwrap_or(0),
            "{ctx}: {kind}"
        );
    }
    let status: BTreeMap<String, u64> = serde_json::from_value(q["status"].clone()).unwrap();
    assert_eq!(status, e.status, "{ctx}");
    assert_eq!(
        q["orphaned"].as_u64().unwrap(),
        e.timed_out.len() as u64,
        "{ctx}"
    );
    assert_eq!(q["in_flight"], 0, "{ctx}");

    // Orphans: exactly the requests that outlived the timeout, each blamed on it.
    let orphans = r["orphans"].as_array().unwrap();
    let mut paths: Vec<String> = orphans
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, e.timed_out, "{ctx}");
    for o in orphans {
        assert_eq!(o["cause"], "worker_timeout", "{ctx}: {o}");
        assert!(o["line"].as_u64().unwrap() > 0);
    }
    // gunicorn ≥ 22 answers a timed-out sync request with its own 500: recorded as such.
    for t in truth["requests"].as_array().unwrap() {
        if let Some(o) = orphans.iter().find(|o| o["path"] == t["path"]) {
            assert_eq!(
                o["client_status"].as_u64(),
                t["status"].as_u64(),
                "{ctx}: {o}"
            );
        }
    }

    // Rejected hosts, as Django printed them.
    let hosts: BTreeMap<String, u64> = r["disallowed_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().to_string(),
                h["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hosts, e.rejected, "{ctx}");
    for h in r["disallowed_hosts"].as_array().unwrap() {
        let name = h["host"].as_str().unwrap();
        if domain(name) == e.public_host {
            assert_eq!(h["kind"], "public", "{ctx}");
            assert_eq!(h["add_to_allowed_hosts"], e.public_host.as_str());
        }
        if name.contains("\\x1b") || name.contains('!') {
            assert_eq!(h["rfc_valid"], false, "{ctx}: {h}");
            assert_eq!(h["kind"], "invalid", "{ctx}: {h}");
        }
    }

    // The checklist, by the documented rules.
    let want_started = if e.boot_failed { "FAIL" } else { "PASS" };
    assert_eq!(check_status(&r, "gunicorn_started"), want_started, "{ctx}");
    let want_stable = if e.boot_failed || !e.timed_out.is_empty() {
        "FAIL"
    } else {
        "PASS"
    };
    assert_eq!(check_status(&r, "workers_stable"), want_stable, "{ctx}");
    let want_answered = if e.total == 0 {
        "UNKNOWN"
    } else if e.timed_out.is_empty() {
        "PASS"
    } else {
        "FAIL"
    };
    assert_eq!(
        check_status(&r, "requests_answered"),
        want_answered,
        "{ctx}"
    );
    let want_probes = if e.probes.is_empty() {
        "UNKNOWN"
    } else if e.probes.iter().all(|s| s.is_some_and(|s| s < 400)) {
        "PASS"
    } else {
        "FAIL"
    };
    assert_eq!(check_status(&r, "probes_answered"), want_probes, "{ctx}");
    let want_hosts = if e.public_rejected {
        "FAIL"
    } else if e.public_accepted {
        "PASS"
    } else {
        "UNKNOWN"
    };
    assert_eq!(check_status(&r, "allowed_hosts"), want_hosts, "{ctx}");
    let answered: u64 = e.status.values().sum();
    let n5xx: u64 = e
        .status
        .iter()
        .filter(|(s, _)| s.starts_with('5'))
        .map(|(_, n)| n)
        .sum();
    let want_5xx = if answered == 0 {
        "UNKNOWN"
    } else if n5xx == 0 {
        "PASS"
    } else if n5xx * 10 >= answered {
        "FAIL"
    } else {
        "WARN"
    };
    assert_eq!(check_status(&r, "server_errors"), want_5xx, "{ctx}");

    // The capture app's /boom/ view divides by zero: the 5xx check names the exception.
    let boom = truth["requests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["path"] == "/boom/" && t["status"] == 500);
    let errors_actual = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "server_errors")
        .unwrap()["actual"]
        .clone();
    assert_eq!(
        boom,
        errors_actual
            .as_str()
            .unwrap()
            .contains("ZeroDivisionError"),
        "{ctx}: {errors_actual}"
    );

    // Concurrent workers are paired by the best key their lines carry, and say so.
    let pairing = &q["pairing"];
    match truth["log_format"].as_str() {
        Some("django_verbose") => {
            assert!(pairing["by_thread"].as_u64() > Some(0), "{ctx}: {pairing}");
            assert_eq!(pairing["ambiguous"], 0, "{ctx}: {pairing}");
        }
        Some("json") => {
            assert!(
                pairing["by_request_id"].as_u64() > Some(0),
                "{ctx}: {pairing}"
            );
        }
        _ => {}
    }
    assert_eq!(pairing["confidence"], "high", "{ctx}: {pairing}");

    // The exit code follows the checks; a scenario with a problem must fail the gate.
    let any_fail = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "FAIL");
    assert_eq!(code, if any_fail { 1 } else { 0 }, "{ctx}");
    let troubled = e.boot_failed || e.public_rejected || !e.timed_out.is_empty();
    assert_eq!(any_fail, troubled, "{ctx}: {}", r["checks"]);
    r
}

#[test]
fn every_capture_agrees_with_the_client_side_truth() {
    for dir in scenario_dirs() {
        let reports: Vec<Value> = VARIANTS.iter().map(|v| verify(&dir, v)).collect();
        // The envelope changes nothing about what happened.
        for r in &reports[1..] {
            assert_eq!(r["requests"], reports[0]["requests"], "{}", dir.display());
            assert_eq!(
                r["disallowed_hosts"],
                reports[0]["disallowed_hosts"],
                "{}",
                dir.display()
            );
            let statuses = |r: &Value| -> Vec<Value> {
                r["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["status"].clone())
                    .collect()
            };
            assert_eq!(statuses(r), statuses(&reports[0]), "{}", dir.display());
        }
    }
}

#[test]
fn findings_name_the_cause_and_the_fix() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let json_for = |scenario: &str, public_host: &str| -> Value {
        let f = dir.join(scenario).join("docker.log");
        let (_, out, _) = run(&[
            "--format",
            "json",
            "--public-host",
            public_host,
            f.to_str().unwrap(),
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let json = |scenario: &str| json_for(scenario, "app.example.com");
    let first = |r: &Value| r["findings"][0].clone();

    let hosts = first(&json("allowed_hosts"));
    assert_eq!(hosts["id"], "public_host_rejected");
    // The address bar's URL names the same host.
    let by_url = json_for("allowed_hosts", "https://app.example.com/");
    assert_eq!(first(&by_url), hosts);
    assert!(
        hosts["fix"]
            .as_str()
            .unwrap()
            .contains("ALLOWED_HOSTS=app.example.com"),
        "{hosts}"
    );
    assert!(hosts["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Invalid HTTP_HOST header"));

    let timeout_report = json("worker_timeout");
    assert_eq!(
        timeout_report["server"]["timeout_source"],
        "inferred from the WORKER TIMEOUT lines"
    );
    let timeout = first(&timeout_report);
    assert_eq!(timeout["id"], "worker_timeout");
    let title = timeout["title"].as_str().unwrap();
    assert!(
        title.contains("/slow/") && title.contains("/stuck/"),
        "{title}"
    );
    // gunicorn ran with --timeout 2; whole-second timestamps put the inference at 2 or 3.
    assert!(
        title.contains("2-second") || title.contains("3-second"),
        "{title}"
    );

    let boot = first(&json("boot_failure"));
    assert_eq!(boot["id"], "boot_failure");
    assert!(
        boot["title"]
            .as_str()
            .unwrap()
            .contains("ALLOWED_HOSTS must be explicitly set"),
        "{boot}"
    );
}

#[test]
fn table_output_never_carries_raw_control_characters() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/allowed_hosts/docker.log");
    let raw = std::fs::read(&f).unwrap();
    assert!(
        raw.contains(&0x1b),
        "the capture holds the hostile Host header"
    );
    let (code, out, _) = run(&[
        "--color",
        "always",
        "--public-host",
        "app.example.com",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    // Colour codes (ESC [ … m) are ours; nothing else may contain ESC or BEL.
    let mut rest = out.as_str();
    while let Some(k) = rest.find('\x1b') {
        let after = &rest[k + 1..];
        let sgr = after.starts_with('[')
            && after[1..].find('m').is_some_and(|m| {
                after[1..1 + m]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ';')
            });
        assert!(
            sgr,
            "raw escape in output: {:?}",
            &rest[k..(k + 20).min(rest.len())]
        );
        rest = after;
    }
    assert!(!out.contains('\x07'));
    let (_, plain, _) = run(&["--color", "never", f.to_str().unwrap()]);
    assert!(!plain.contains('\x1b'));
    assert!(plain.contains("Django rejects app.example.com"));
}

#[test]
fn unreadable_inputs_exit_2_and_the_rest_is_still_analysed() {
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/healthy/docker.log");
    let (code, out, err) = run(&[
        "--format",
        "json",
        "/nonexistent/app.log",
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/app.log"), "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!(r["requests"]["total"].as_u64().unwrap() > 0);
    assert_eq!(r["input"]["errors"].as_array().unwrap().len(), 1);

    // A directory stands for the log files in it; one with none is an error.
    let empty = std::env::temp_dir().join(format!("reqtrail-empty-dir-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = run(&[empty.to_str().unwrap(), good.to_str().unwrap()]);
    std::fs::remove_dir(&empty).ok();
    assert_eq!(code, 2);
    assert!(err.contains("no log files"), "{err}");
    let dir = good.parent().unwrap();
    let (_, by_dir, _) = run(&["--format", "json", "--separate", dir.to_str().unwrap()]);
    let by_dir: Value = serde_json::from_str(&by_dir).unwrap();
    assert_eq!(
        by_dir["input"]["files"].as_array().unwrap().len(),
        4,
        "three logs and truth.json"
    );

    let (code, _, err) = run(&["--timeout=-3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--timeout"), "{err}");
}

#[test]
fn empty_input_is_said_plainly_and_fails() {
    let tmp = std::env::temp_dir().join(format!("reqtrail-empty-{}.log", std::process::id()));
    std::fs::write(&tmp, b"").unwrap();
    let (code, out, _) = run(&["--color", "never", tmp.to_str().unwrap()]);
    std::fs::remove_file(&tmp).ok();
    assert_eq!(code, 1);
    assert!(out.contains("The input is empty"), "{out}");
    assert!(!out.contains("PASS"), "{out}");
}
