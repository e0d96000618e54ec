//! What deploy/ ships works on reqtrail's real metrics: `promtool check rules` passes on every
//! rules file, `promtool test rules` on the alerts' unit tests, the Grafana dashboard's queries
//! are valid PromQL (checked by promtool as recording rules), and every metric the rules and the
//! dashboard name is one reqtrail writes (`--format prometheus` on real captures). The
//! textfile-collector script writes a file node_exporter can read, whole or not at all.
//!
//! promtool comes with Debian's `prometheus` package, which .ci/run installs; where it is
//! missing outside CI, the promtool steps are skipped with a message.

mod common;
use common::{output_within, sample, Tmp};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Whether promtool is installed; missing, a message says what is skipped (and in CI, where
/// .ci/run installs it, the test fails instead).
fn have_promtool(what: &str) -> bool {
    let in_ci =
        std::env::var_os("CI").is_some() || std::env::var_os("REQTRAIL_NEED_PROMTOOL").is_some();
    if Command::new("promtool").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        !in_ci,
        "promtool is needed in CI (.ci/run installs prometheus)"
    );
    eprintln!("promtool not found: {what} skipped (apt-get install prometheus)");
    false
}

/// Runs `promtool ARGS` (if installed), asserting it passes.
fn promtool(args: &[&str]) -> bool {
    if !have_promtool(&format!("promtool {args:?}")) {
        return false;
    }
    let out = output_within(Command::new("promtool").args(args), Duration::from_secs(60));
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// deploy/*.rules.yml, by name.
fn rules_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".rules.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    files
}

/// The metric names in `text`: words starting `reqtrail_` (a recording rule's name, with `:`,
/// is not one), without a histogram's `_bucket`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("reqtrail_") && !w.contains(':'))
        .map(|w| w.trim_end_matches("_bucket").to_string())
        .collect()
}

/// Every metric name reqtrail writes, from real captures (pods, an edge, orphans, hosts).
fn written() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for f in [
        sample("worker_timeout", "kubectl.log"),
        sample("allowed_hosts", "kubectl.log"),
        sample("edge_timeout_short", "compose.log"),
    ] {
        let (code, out, err) = common::run(&["--format", "prometheus", &f]);
        assert!(code <= 1, "{err}");
        for line in out.lines().filter(|l| !l.starts_with('#')) {
            names.extend(metric_names(line.split(['{', ' ']).next().unwrap()));
        }
    }
    names
}

/// The dashboard's queries, with Grafana's variables given values PromQL can read.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(deploy().join("grafana-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let e = t["expr"].as_str().unwrap();
            exprs.push(
                e.replace("$__rate_interval", "5m")
                    .replace("$instance", ".*"),
            );
        }
    }
    assert!(exprs.len() >= 12, "{exprs:?}");
    exprs
}

#[test]
fn rules_pass_promtool_and_their_unit_tests() {
    let files = rules_files();
    let mut args = vec!["check", "rules"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    if !promtool(&args) {
        return;
    }
    let tests = deploy().join("tests/reqtrail.rules.test.yml");
    promtool(&["test", "rules", tests.to_str().unwrap()]);
}

#[test]
fn dashboard_queries_are_valid_promql() {
    let tmp = Tmp::new("deploy-dashboard");
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (k, e) in dashboard_queries().iter().enumerate() {
        // JSON strings are valid YAML double-quoted scalars.
        let quoted = serde_json::to_string(e).unwrap();
        yaml.push_str(&format!(
            "      - record: dashboard:q{k}\n        expr: {quoted}\n"
        ));
    }
    let f = tmp.file("dashboard.rules.yml", yaml.as_bytes());
    promtool(&["check", "rules", &f]);
}

#[test]
fn rules_and_dashboard_name_only_metrics_reqtrail_writes() {
    let written = written();
    let mut texts: Vec<(String, String)> = rules_files()
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            // Comments may speak of families (`reqtrail_pod_*`); the rules are what counts.
            let rules: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect();
            (p.display().to_string(), rules.join("\n"))
        })
        .collect();
    texts.push(("dashboard".into(), dashboard_queries().join("\n")));
    for (what, text) in texts {
        let named = metric_names(&text);
        assert!(!named.is_empty(), "{what}");
        let unknown: Vec<_> = named.difference(&written).collect();
        assert!(
            unknown.is_empty(),
            "{what} names metrics reqtrail does not write: {unknown:?}"
        );
    }
}

/// deploy/textfile-collector/reqtrail-textfile: a file node_exporter reads whole (no temporary
/// left behind), promtool-valid; a failed run keeps the last good one.
#[test]
fn textfile_script_writes_whole_files() {
    let tmp = Tmp::new("deploy-textfile");
    let script = deploy().join("textfile-collector/reqtrail-textfile");
    let dir = tmp.0.to_str().unwrap();
    let run = |input: &str| {
        let out = output_within(
            Command::new("sh")
                .arg(&script)
                .arg(input)
                .env("REQTRAIL", env!("CARGO_BIN_EXE_reqtrail"))
                .env("TEXTFILE_DIR", dir)
                .env("REQTRAIL_FLAGS", "--public-host=app.example.com"),
            Duration::from_secs(60),
        );
        let files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        (out.status.code(), files)
    };
    // A check fails on this capture (exit 1): the metrics are written all the same.
    let (code, files) = run(&sample("allowed_hosts", "docker.log"));
    assert_eq!((code, files), (Some(0), vec!["reqtrail.prom".to_string()]));
    let prom = tmp.0.join("reqtrail.prom");
    let written = std::fs::read_to_string(&prom).unwrap();
    assert!(written.contains(
        "reqtrail_disallowed_host_rejections_total{host=\"app.example.com\",kind=\"public\"} 12"
    ));
    if have_promtool("promtool check metrics") {
        let out = output_within(
            Command::new("sh")
                .arg("-c")
                .arg("promtool check metrics < \"$1\"")
                .arg("sh")
                .arg(&prom),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An unreadable input: exit 2, the last good file kept, no temporary left.
    let missing = tmp.0.join("missing.log");
    let (code, files) = run(missing.to_str().unwrap());
    assert_eq!((code, files), (Some(2), vec!["reqtrail.prom".to_string()]));
    assert_eq!(std::fs::read_to_string(&prom).unwrap(), written);
}
