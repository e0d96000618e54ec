//! `--format openmetrics` and `--format prometheus` on the real captures: the exposition is read
//! back (by the small reader below, and by Debian's `promtool check metrics` when it is
//! installed, which CI does) and every figure must equal the JSON report's for the same input:
//! requests, orphans by cause, DisallowedHost per host, check statuses, lines, the latency
//! histogram's counts and the edge's. A Host header with `"`, `\` and ESC must come out valid.

mod common;
use common::{capture_dirs, promtool_check, run, Tmp};

use std::collections::BTreeMap;
use std::path::Path;

use reqtrail::report::escape::for_terminal;
use serde_json::Value;

/// One sample: its name, labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A label value's escapes undone (`\\`, `\"`, `\n`), and where it ends (after its `"`).
fn label_value(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return (out, &s[k + 1..]),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                other => panic!("bad escape \\{other:?} in {s}"),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated label value: {s}")
}

/// One sample line: `name{k="v",...} value`.
fn sample(line: &str) -> Sample {
    let end = line.find(['{', ' ']).expect("a name");
    let (name, mut rest) = line.split_at(end);
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        while !rest.starts_with('}') {
            let eq = rest.find("=\"").expect("label=\"");
            let key = rest[..eq].to_string();
            let (value, r) = label_value(&rest[eq + 2..]);
            assert!(labels.insert(key, value).is_none(), "label twice: {line}");
            rest = r.strip_prefix(',').unwrap_or(r);
        }
        rest = &rest[1..];
    }
    let value = rest.strip_prefix(' ').expect("a space before the value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("a number: {line}")),
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

/// The samples of an exposition, checking its structure on the way: every sample under its
/// family's `# TYPE`, names and label names valid, counters named `_total`; in OpenMetrics the
/// family names lack `_total` and the text ends with `# EOF`.
fn read(text: &str, openmetrics: bool) -> Vec<Sample> {
    let valid = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut family: Option<(String, String)> = None;
    let mut out = Vec::new();
    let mut lines: Vec<&str> = text.lines().collect();
    if openmetrics {
        assert_eq!(lines.pop(), Some("# EOF"), "OpenMetrics ends with # EOF");
    }
    assert!(text.ends_with('\n'));
    for line in lines {
        assert!(!line.contains('\x1b'), "raw ESC: {line:?}");
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            assert!(valid(name), "{line}");
            assert_eq!(
                name.ends_with("_total"),
                !openmetrics && kind == "counter",
                "{line}"
            );
            family = Some((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "{line}");
            continue;
        }
        let s = sample(line);
        let (fam, kind) = family.as_ref().expect("a sample after its # TYPE");
        let base = fam.strip_suffix("_total").unwrap_or(fam);
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_count", "_sum"],
            _ => &[""],
        };
        assert!(
            suffixes.iter().any(|x| s.name == format!("{base}{x}")),
            "{} under family {fam} ({kind})",
            s.name
        );
        assert!(s.labels.keys().all(|k| valid(k)), "{line}");
        out.push(s);
    }
    out
}

/// The value of `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}");
    found[0].value
}

/// The sum of `name` over all its series.
fn sum(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// Runs reqtrail on `args` as json, openmetrics and prometheus: the JSON and the samples (the
/// two flavours must give the same samples).
fn both(args: &[&str]) -> (Value, Vec<Sample>, String) {
    let with = |format: &str| {
        let mut a = vec!["--format", format];
        a.extend_from_slice(args);
        let (code, out, err) = run(&a);
        assert!(code == 0 || code == 1, "{format} {args:?}: {err}");
        out
    };
    let json: Value = serde_json::from_str(&with("json")).unwrap();
    let om = with("openmetrics");
    let prom = with("prometheus");
    let samples = read(&om, true);
    let key = |v: &[Sample]| -> Vec<String> { v.iter().map(|s| format!("{s:?}")).collect() };
    assert_eq!(key(&samples), key(&read(&prom, false)), "{args:?}");
    promtool_check(&prom, &format!("{args:?}"));
    (json, samples, om)
}

/// Every figure the metrics share with the JSON report, equal.
fn assert_agrees(r: &Value, m: &[Sample], what: &str) {
    let n = |v: &Value| v.as_u64().unwrap() as f64;
    let q = &r["requests"];
    for class in ["probe", "health", "external"] {
        let labels = [("class", class)];
        let total = q["by_class"].get(class).map_or(0.0, |c| n(&c["total"]));
        assert_eq!(
            value(m, "reqtrail_requests_total", &labels),
            total,
            "{what} {class}"
        );
    }
    for class in ["probe", "health", "external"] {
        for (why, key) in [
            ("server_error", "server_error"),
            ("host_rejected", "host_rejected"),
            ("orphaned", "orphaned"),
        ] {
            let got = value(
                m,
                "reqtrail_requests_failed_total",
                &[("class", class), ("why", why)],
            );
            let json = q["by_class"].get(class).map_or(0.0, |c| n(&c[key]));
            assert_eq!(got, json, "{what} {class} {why}");
        }
    }
    assert_eq!(sum(m, "reqtrail_requests_total"), n(&q["total"]), "{what}");
    assert_eq!(
        sum(m, "reqtrail_requests_answered_total"),
        n(&q["answered"]),
        "{what}"
    );
    assert_eq!(
        sum(m, "reqtrail_requests_orphaned_total"),
        n(&q["orphaned"]),
        "{what}"
    );
    // Orphans by cause: as the JSON counts them, and as its list shows them.
    let mut listed: BTreeMap<&str, f64> = BTreeMap::new();
    for o in r["orphans"].as_array().unwrap() {
        *listed.entry(o["cause"].as_str().unwrap()).or_default() += 1.0;
    }
    for cause in [
        "worker_timeout",
        "worker_killed",
        "worker_exited",
        "never_answered",
        "open_at_end",
    ] {
        let got = value(m, "reqtrail_requests_orphaned_total", &[("cause", cause)]);
        let json = q["orphaned_by_cause"].get(cause).map_or(0.0, n);
        assert_eq!(got, json, "{what} {cause}");
        assert_eq!(
            got,
            listed.get(cause).copied().unwrap_or(0.0),
            "{what} {cause}"
        );
    }
    assert_eq!(
        value(m, "reqtrail_requests_in_flight", &[]),
        n(&q["in_flight"]),
        "{what}"
    );
    // DisallowedHost per host: each listed host its own series (few hosts in a capture).
    let hosts = r["disallowed_hosts"].as_array().unwrap();
    assert!(hosts.len() <= 10, "{what}: the capture has few hosts");
    for h in hosts {
        let host = for_terminal(h["host"].as_str().unwrap()).into_owned();
        let labels = [
            ("host", host.as_str()),
            ("kind", h["kind"].as_str().unwrap()),
        ];
        let got = value(m, "reqtrail_disallowed_host_rejections_total", &labels);
        assert_eq!(got, n(&h["count"]), "{what} {host}");
    }
    let other = [("host", "other"), ("kind", "other")];
    let unlisted = n(&r["disallowed_hosts_unlisted"]);
    assert_eq!(
        value(m, "reqtrail_disallowed_host_rejections_total", &other),
        unlisted
    );
    // Each check's status.
    let checks = r["checks"].as_array().unwrap();
    assert_eq!(
        m.iter()
            .filter(|s| s.name == "reqtrail_check_status")
            .count(),
        checks.len()
    );
    for c in checks {
        let want = match c["status"].as_str().unwrap() {
            "PASS" => 0.0,
            "WARN" => 1.0,
            "FAIL" => 2.0,
            _ => 3.0,
        };
        let id = c["id"].as_str().unwrap();
        assert_eq!(
            value(m, "reqtrail_check_status", &[("check", id)]),
            want,
            "{what} {id}"
        );
    }
    let i = &r["input"];
    assert_eq!(
        value(m, "reqtrail_lines_read_total", &[]),
        n(&i["lines"]),
        "{what}"
    );
    assert_eq!(
        value(m, "reqtrail_lines_recognized_total", &[]),
        n(&i["recognized"])
    );
    assert_eq!(
        value(m, "reqtrail_lines_unrecognized_total", &[]),
        n(&i["unrecognized"])
    );
    assert_eq!(
        value(m, "reqtrail_boot_failed", &[]),
        f64::from(u8::from(r["server"]["boot_failed"].as_bool().unwrap()))
    );
    let workers = [
        ("booted", "workers_booted"),
        ("timeout", "worker_timeouts"),
        ("killed", "workers_killed"),
        ("exited", "worker_exits"),
        ("planned_restart", "planned_restarts"),
    ];
    for (kind, key) in workers {
        let got = value(m, "reqtrail_worker_events_total", &[("kind", kind)]);
        assert_eq!(got, n(&r["server"][key]), "{what} {kind}");
    }
    assert_durations(r, m, what);
    let e = &r["edge"];
    assert_eq!(
        sum(m, "reqtrail_edge_requests_total"),
        n(&e["requests"]),
        "{what}"
    );
    assert_eq!(
        sum(m, "reqtrail_edge_failures_total"),
        n(&e["failures_total"]),
        "{what}"
    );
    for (cause, count) in e["causes"].as_object().unwrap() {
        let got = value(m, "reqtrail_edge_failures_total", &[("cause", cause)]);
        assert_eq!(got, n(count), "{what} {cause}");
    }
}

/// The histogram: a series per route (few in a capture), cumulative, `+Inf` = `_count` = the
/// JSON's count, the sum the JSON's.
fn assert_durations(r: &Value, m: &[Sample], what: &str) {
    let routes = r["latency"]["routes"].as_array().unwrap();
    assert!(routes.len() <= 20, "{what}: the capture has few routes");
    for route in routes {
        let name = for_terminal(route["route"].as_str().unwrap()).into_owned();
        let count = route["count"].as_u64().unwrap() as f64;
        let labels = [("route", name.as_str())];
        assert_eq!(
            value(m, "reqtrail_request_duration_seconds_count", &labels),
            count
        );
        let sum_s = value(m, "reqtrail_request_duration_seconds_sum", &labels);
        assert!(
            (sum_s * 1000.0 - route["sum_ms"].as_f64().unwrap()).abs() < 1e-6,
            "{what}"
        );
        let buckets: Vec<&Sample> = m
            .iter()
            .filter(|s| {
                s.name == "reqtrail_request_duration_seconds_bucket" && s.labels["route"] == name
            })
            .collect();
        assert_eq!(buckets.len(), 14, "{what} {name}");
        assert!(
            buckets.windows(2).all(|w| w[0].value <= w[1].value),
            "{what} {name}"
        );
        assert_eq!(buckets.last().unwrap().labels["le"], "+Inf");
        assert_eq!(buckets.last().unwrap().value, count);
        // Latencies the JSON puts at or below a bound are counted at that bound.
        let p50 = route["p50_ms"].as_f64().unwrap();
        let at = buckets
            .iter()
            .find(|b| b.labels["le"].parse::<f64>().unwrap() * 1000.0 >= p50);
        if let Some(b) = at {
            assert!(
                b.value >= (count / 2.0).floor(),
                "{what} {name}: p50 {p50} ms, {b:?}"
            );
        }
    }
}

/// The app's captures, read as `kubectl logs --prefix` gives them (a pod label) and as
/// `docker logs` does.
#[test]
fn metrics_equal_the_json_on_the_app_captures() {
    for dir in capture_dirs("docker.log", 5) {
        for file in ["kubectl.log", "docker.log"] {
            let f = dir.join(file);
            let f = f.to_str().unwrap();
            let (json, m, _) = both(&["--public-host", "app.example.com", f]);
            assert_agrees(&json, &m, f);
            let pods = json["pods"].as_array().unwrap();
            assert_eq!(
                sum(&m, "reqtrail_pod_lines_total"),
                pods.iter()
                    .map(|p| p["lines"].as_u64().unwrap() as f64)
                    .sum::<f64>(),
                "{f}"
            );
        }
    }
}

/// Logs of different servers read apart (`--separate`): each input gets its own per-pod
/// series, named by its path, and they add up to the whole run's; each equals that input read
/// alone.
#[test]
fn inputs_read_apart_are_exposed_apart() {
    let files: Vec<String> = capture_dirs("docker.log", 3)
        .iter()
        .map(|d| d.join("docker.log").to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["--separate"];
    args.extend(files.iter().map(String::as_str));
    let (json, m, _) = both(&args);
    assert_agrees(&json, &m, "--separate");
    for f in &files {
        let (alone, _, _) = both(&[f]);
        let pod = [("pod", f.as_str())];
        for (family, field) in [
            ("reqtrail_pod_lines_total", &alone["input"]["lines"]),
            ("reqtrail_pod_requests_total", &alone["requests"]["total"]),
            (
                "reqtrail_pod_orphaned_total",
                &alone["requests"]["orphaned"],
            ),
        ] {
            assert_eq!(
                value(&m, family, &pod),
                field.as_u64().unwrap() as f64,
                "{family} {f}"
            );
        }
    }
    assert_eq!(
        sum(&m, "reqtrail_pod_lines_total"),
        json["input"]["lines"].as_u64().unwrap() as f64
    );
    // Read as one stream (one server's files), no input is a pod.
    let (_, merged, _) = both(&args[1..]);
    assert_eq!(sum(&merged, "reqtrail_pod_lines_total"), 0.0);
}

/// The edge's captures (the app and nginx or HAProxy as `docker compose logs` gives them).
#[test]
fn metrics_equal_the_json_on_the_edge_captures() {
    for dir in capture_dirs("compose.log", 6) {
        let f = dir.join("compose.log");
        let f = f.to_str().unwrap();
        let (json, m, _) = both(&[f]);
        assert!(json["edge"]["present"].as_bool().unwrap(), "{f}");
        assert_agrees(&json, &m, f);
    }
}

/// A Host header with a quote, a backslash and ESC: its label stays one valid, terminal-safe
/// label value, and its count is the JSON's.
#[test]
fn hostile_host_labels_stay_valid() {
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/allowed_hosts/docker.log"),
    )
    .unwrap();
    let hostile = "a\"b\\c\x1b[2J.example";
    let tmp = Tmp::new("metrics-hostile");
    let f = tmp.file(
        "hostile.log",
        real.replace("app.example.com", hostile).as_bytes(),
    );
    let (json, m, om) = both(&[&f]);
    assert!(!om.contains('\x1b'));
    assert!(om.contains(r#"host="a\"b\\c\\x1b[2J.example""#), "{om}");
    let shown = for_terminal(hostile).into_owned();
    assert!(m.iter().any(|s| s.labels.get("host") == Some(&shown)));
    assert_agrees(&json, &m, "hostile");
}

/// A flood of distinct hosts, routes and pods (the allowed_hosts capture read as 300 pods, each
/// with its own rejected host and its own admin route): the series stay within the caps, and
/// what is folded into `other` still adds up to the JSON's totals.
#[test]
fn labels_stay_bounded_under_a_flood() {
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/allowed_hosts/kubectl.log"),
    )
    .unwrap();
    let copies = 300;
    let mut flood = String::with_capacity(real.len() * copies);
    for i in 0..copies {
        flood.push_str(
            &real
                .replace("web-7d9f8b6c4-x2x9q", &format!("web-{i}"))
                .replace("app.example.com", &format!("h{i}.example"))
                .replace("/admin/", &format!("/admin{i}x/")),
        );
    }
    let tmp = Tmp::new("metrics-flood");
    let f = tmp.file("flood.log", flood.as_bytes());
    let (json, m, om) = both(&[&f]);
    let distinct = |name: &str, label: &str| -> usize {
        let values: std::collections::BTreeSet<&str> = m
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.labels[label].as_str())
            .collect();
        values.len()
    };
    let hosts = json["disallowed_hosts"].as_array().unwrap();
    assert!(
        hosts.len() > 300,
        "the flood has its hosts: {}",
        hosts.len()
    );
    assert_eq!(
        distinct("reqtrail_disallowed_host_rejections_total", "host"),
        11
    );
    let routes = json["latency"]["routes"].as_array().unwrap();
    assert!(
        routes.len() > 300,
        "the flood has its routes: {}",
        routes.len()
    );
    assert_eq!(
        distinct("reqtrail_request_duration_seconds_count", "route"),
        21
    );
    assert_eq!(json["pods"].as_array().unwrap().len(), copies);
    assert_eq!(distinct("reqtrail_pod_lines_total", "pod"), 51);
    assert!(m.len() < 1000, "{} samples", m.len());
    assert!(om.len() < 150_000, "{} bytes", om.len());
    // What is folded still adds up.
    let n = |v: &Value| v.as_u64().unwrap() as f64;
    let rejected: f64 =
        hosts.iter().map(|h| n(&h["count"])).sum::<f64>() + n(&json["disallowed_hosts_unlisted"]);
    assert_eq!(
        sum(&m, "reqtrail_disallowed_host_rejections_total"),
        rejected
    );
    let measured: f64 = routes.iter().map(|r| n(&r["count"])).sum();
    assert_eq!(sum(&m, "reqtrail_request_duration_seconds_count"), measured);
    assert_eq!(
        sum(&m, "reqtrail_pod_lines_total"),
        n(&json["input"]["lines"])
    );
    assert_eq!(
        sum(&m, "reqtrail_requests_total"),
        n(&json["requests"]["total"])
    );
}
