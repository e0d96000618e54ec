//! The users' view end to end, on real captures of Debian's nginx and HAProxy in front of
//! gunicorn + Django (`sample-logs/edge_*`, made by `scripts/capture.sh`; CI re-captures them
//! fresh into `REQTRAIL_CAPTURE_DIR`). Every expectation is derived from the scenario's
//! truth.json (what the client got, through the proxy or straight from gunicorn, with the
//! proxy's and gunicorn's timeouts) and from what the capture app's views do (`/slow/` sleeps
//! `slow_seconds`, `/stuck/` outlasts every timeout, `/boom/` raises), read as separate files and
//! as `docker compose logs` of both.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reqtrail");

/// What a capture's proxy (truth.json's `edge.server`) wrote, and how its lines and its timeout
/// show in the report.
struct Proxy {
    /// Its own log files, beside the app's `app.log`.
    files: &'static [&'static str],
    /// The key of truth.json's `edge` holding its upstream timeout, in seconds.
    timeout_key: &'static str,
    /// Whether a line is its log line for a request it answered 5xx.
    failed_line: fn(&str) -> bool,
    /// The setting the timeout mismatch's fix names, with the wait it should be after it.
    fix_setting: &'static str,
}

fn proxy(t: &Value) -> Proxy {
    match t["edge"]["server"].as_str().unwrap() {
        "nginx" => Proxy {
            files: &["nginx-access.log", "nginx-error.log"],
            timeout_key: "proxy_read_timeout",
            failed_line: |l| l.contains("HTTP/1.1\" 5"),
            fix_setting: "proxy_read_timeout ",
        },
        // `option httplog`: `client:port [accept date] frontend backend/server timers status …
        // "request"`.
        "haproxy" => Proxy {
            files: &["haproxy.log"],
            timeout_key: "timeout_server",
            failed_line: |l| {
                // In compose.log, behind its service's prefix.
                let l = match l.strip_prefix("haproxy-1") {
                    Some(rest) => rest.split_once("| ").map_or(rest, |(_, line)| line),
                    None => l,
                };
                l.ends_with("HTTP/1.1\"")
                    && l.split_whitespace()
                        .nth(5)
                        .is_some_and(|s| s.starts_with('5'))
            },
            fix_setting: "timeout server ",
        },
        other => panic!("no expectations for the proxy {other}"),
    }
}

/// Every edge capture (the five nginx ones and the HAProxy one): the committed ones, and the
/// fresh ones when CI made them.
fn edge_dirs() -> Vec<PathBuf> {
    common::capture_dirs("compose.log", 6)
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

fn report(args: &[&Path]) -> (i32, Value) {
    let out = Command::new(BIN)
        .arg("--format")
        .arg("json")
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: {e}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

/// The two ways a person has both logs: the app's and the proxy's files, or compose's
/// interleaving. (The directory's name, `edge_haproxy_timeout`, names no source: `app.log` in it
/// is the app's.)
fn layouts(dir: &Path, t: &Value) -> Vec<(&'static str, Vec<PathBuf>)> {
    let own = proxy(t).files.iter().copied();
    vec![
        (
            "files",
            std::iter::once("app.log")
                .chain(own)
                .map(|f| dir.join(f))
                .collect(),
        ),
        ("compose", vec![dir.join("compose.log")]),
    ]
}

/// The requests sent through the proxy, as the client saw them.
fn through_edge(t: &Value) -> Vec<&Value> {
    t["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["via"] == "edge")
        .collect()
}

/// What the app's side of a request through nginx must be, from the scenario's truth: the
/// views' behaviour against nginx's and gunicorn's timeouts.
fn expected_cause(t: &Value, r: &Value) -> Option<&'static str> {
    let status = r["status"].as_u64()?;
    let path = r["path"].as_str().unwrap();
    let gunicorn = t["gunicorn_timeout"].as_f64().unwrap_or(30.0);
    let slow = t["slow_seconds"].as_f64().unwrap();
    Some(match (status, path) {
        (400, _) => "host_rejected",
        _ if t["boot_failed"] == true => "no_worker_accepting",
        (_, "/boom/") => "app_error",
        (_, "/stuck/") => "worker_timeout",
        (_, "/slow/") if gunicorn <= slow => "worker_timeout",
        (_, "/slow/") => "answered_after_edge_gave_up",
        _ => return None,
    })
}

fn counts<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.to_string()).or_default() += 1;
    }
    m
}

#[test]
fn each_user_failure_at_the_proxy_is_explained_from_the_apps_side() {
    for dir in edge_dirs() {
        let t = truth(&dir);
        let users = through_edge(&t);
        let answered: Vec<&&Value> = users.iter().filter(|r| r["status"].is_u64()).collect();
        for (layout, files) in layouts(&dir, &t) {
            let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let (code, v) = report(&paths);
            let at = format!("{} ({layout})", dir.display());
            let e = &v["edge"];
            assert_eq!(e["present"], true, "{at}");
            assert_eq!(e["app_side"], true, "{at}");
            // What users got, request for request: the proxy logged one access line each.
            assert_eq!(e["requests"], answered.len() as u64, "{at}");
            let statuses = counts(
                answered
                    .iter()
                    .map(|r| r["status"].as_u64().unwrap().to_string())
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            );
            let got: BTreeMap<String, u64> = serde_json::from_value(e["status"].clone()).unwrap();
            assert_eq!(got, statuses, "{at}");
            let failed = answered
                .iter()
                .filter(|r| r["status"].as_u64().unwrap() >= 500)
                .count() as u64;
            assert_eq!(e["failed"], failed, "{at}");
            // Each failure (5xx and the 400s passed through) and its app-side cause.
            let want = counts(answered.iter().filter_map(|r| expected_cause(&t, r)));
            let causes: BTreeMap<String, u64> =
                serde_json::from_value(e["causes"].clone()).unwrap();
            assert_eq!(causes, want, "{at}");
            // The probes went straight to gunicorn: app requests the edge never saw, not users.
            let probes = t["requests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["via"] == "app" && r["kind"] == "probe" && r["status"].is_u64())
                .count() as u64;
            assert_eq!(v["requests"]["probe"], probes, "{at}");
            // Both sides' clocks are this machine's: where requests were logged on both, the
            // offset measured is none.
            if let Some(skew) = e["clock_skew"].as_object() {
                assert_eq!(skew["seconds"], 0.0, "{at}");
            } else {
                assert_eq!(
                    t["boot_failed"], true,
                    "{at}: nothing answered on both sides"
                );
            }
            let check = v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "users_answered")
                .unwrap_or_else(|| panic!("{at}: no users_answered check"));
            let status = if failed > 0 {
                "FAIL"
            } else if causes.contains_key("host_rejected") {
                "WARN"
            } else {
                "PASS"
            };
            assert_eq!(check["status"], status, "{at}");
            // The reverse: the probes the app answered are said not to be users.
            let actual = check["actual"].as_str().unwrap();
            assert_eq!(
                actual.contains(&format!("not users: {probes} probe")),
                probes > 0,
                "{at}: {actual}"
            );
            assert_eq!(code, if failed > 0 { 1 } else { code }, "{at}");
            findings_tell_the_story(&t, &v, &at);
        }
    }
}

/// The findings each failure calls for, with lines from both sides.
fn findings_tell_the_story(t: &Value, v: &Value, at: &str) {
    let proxy = proxy(t);
    let findings: Vec<&Value> = v["findings"].as_array().unwrap().iter().collect();
    let has = |id: &str| findings.iter().find(|f| f["id"] == id).copied();
    let causes = &v["edge"]["causes"];
    for (cause, id) in [
        ("worker_timeout", "users_failed_worker_timeout"),
        ("answered_after_edge_gave_up", "users_failed_edge_gave_up"),
        ("app_error", "users_failed_app_error"),
        ("no_worker_accepting", "users_failed_no_worker"),
    ] {
        match (causes.get(cause), has(id)) {
            (Some(_), Some(f)) => {
                let files: Vec<&str> = f["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["text"].as_str().unwrap())
                    .collect();
                assert!(
                    files.iter().any(|l| (proxy.failed_line)(l)),
                    "{at}: {id} shows the proxy's access line: {files:?}"
                );
                if cause != "no_worker_accepting" {
                    assert!(
                        files.iter().any(|l| l.contains("INCOMING REQUEST")),
                        "{at}: {id} shows the app's line: {files:?}"
                    );
                }
            }
            (None, None) => {}
            (c, f) => panic!(
                "{at}: cause {cause} {c:?} but finding {id} {:?}",
                f.map(|f| &f["title"])
            ),
        }
    }
    // The proxy giving up before gunicorn's timeout is a finding with its fix, only when it does.
    let edge = t["edge"][proxy.timeout_key].as_f64().unwrap();
    let gunicorn = t["gunicorn_timeout"].as_f64().unwrap_or(30.0);
    let timed_out = causes.get("answered_after_edge_gave_up").is_some()
        || v["edge"]["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["reason"] == "upstream_timeout");
    let mismatch = has("edge_timeout_shorter_than_gunicorn");
    assert_eq!(
        mismatch.is_some(),
        timed_out && edge + 1.0 <= gunicorn,
        "{at}: edge_timeout_shorter_than_gunicorn"
    );
    if let Some(f) = mismatch {
        let fix = f["fix"].as_str().unwrap();
        // The fix makes the proxy wait longer than gunicorn's timeout (as the logs show it:
        // gunicorn kills up to a second after it), never shorter.
        let wait: f64 = fix
            .split(proxy.fix_setting)
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{at}: {fix}"));
        assert!(wait > gunicorn, "{at}: {fix}");
        assert!(
            !fix.contains("lower gunicorn"),
            "{at}: the proxy waits {edge} s: {fix}"
        );
    }
}

#[test]
fn the_edge_log_alone_gives_the_users_view_and_says_the_app_is_missing() {
    for dir in edge_dirs() {
        let t = truth(&dir);
        let own: Vec<PathBuf> = proxy(&t).files.iter().map(|f| dir.join(f)).collect();
        let paths: Vec<&Path> = own.iter().map(PathBuf::as_path).collect();
        let (_, v) = report(&paths);
        let e = &v["edge"];
        let users = through_edge(&t);
        let answered = users.iter().filter(|r| r["status"].is_u64()).count() as u64;
        assert_eq!(e["requests"], answered, "{}", dir.display());
        assert_eq!(e["app_side"], false);
        assert_eq!(
            v["requests"]["total"], 0,
            "the proxy's lines are no app requests"
        );
        let causes: BTreeMap<String, u64> = serde_json::from_value(e["causes"].clone()).unwrap();
        // Without the app's log only the edge's own reasons say anything: refused connections.
        for cause in causes.keys() {
            assert!(
                ["app_side_missing", "no_worker_accepting"].contains(&cause.as_str()),
                "{}: {cause}",
                dir.display()
            );
        }
        let failures = e["failures_total"].as_u64().unwrap();
        let ids: Vec<&str> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"edge_without_app_log"), "{}", dir.display());
        assert_eq!(failures > 0, causes.values().sum::<u64>() > 0);
    }
}

/// Shifts every nginx timestamp of `text` by `secs` (access `[04/Dec/2026:07:07:53 +0000]` and
/// error `2026/12/04 07:07:54`), as a proxy on another clock would have written them.
fn shifted(text: &str, secs: i64) -> String {
    let shift = |h: i64, m: i64, s: i64| {
        let t = (h * 3600 + m * 60 + s + secs).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    };
    text.lines()
        .map(|l| {
            // The time of day sits at a fixed place in both formats.
            let at = if l.starts_with("20") {
                11
            } else {
                l.find(':').map_or(0, |k| k + 1)
            };
            let clock = l
                .get(at..at + 8)
                .filter(|c| c.as_bytes().get(2) == Some(&b':'));
            match clock {
                Some(c) => {
                    let n: Vec<i64> = c.split(':').map(|x| x.parse().unwrap()).collect();
                    format!("{}{}{}\n", &l[..at], shift(n[0], n[1], n[2]), &l[at + 8..])
                }
                None => format!("{l}\n"),
            }
        })
        .collect()
}

#[test]
fn a_proxy_on_another_clock_is_measured_and_paired_all_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/edge_timeout_short");
    let (_, straight) = report(&[
        &dir.join("app.log"),
        &dir.join("nginx-access.log"),
        &dir.join("nginx-error.log"),
    ]);
    let tmp = common::Tmp::new("edge-skew");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let access = tmp.file(
        "nginx-access.log",
        shifted(&read("nginx-access.log"), 37).as_bytes(),
    );
    let error = tmp.file(
        "nginx-error.log",
        shifted(&read("nginx-error.log"), 37).as_bytes(),
    );
    let (_, v) = report(&[&dir.join("app.log"), Path::new(&access), Path::new(&error)]);
    assert_eq!(v["edge"]["clock_skew"]["seconds"], 37.0);
    assert!(v["edge"]["clock_skew"]["pairs"].as_u64().unwrap() >= 3);
    assert_eq!(v["edge"]["causes"], straight["edge"]["causes"]);
    assert_ne!(v["edge"]["causes"], serde_json::json!({}));
}

#[test]
fn nothing_but_the_source_tells_nginx_from_gunicorn() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/edge_timeout_long");
    let tmp = common::Tmp::new("edge-declared");
    // nginx's access log under a name that says nothing.
    let front = tmp.file(
        "front.log",
        &std::fs::read(dir.join("nginx-access.log")).unwrap(),
    );
    let app = dir.join("app.log");
    let (_, told) = report(&[Path::new("--edge"), Path::new(&front), &app]);
    let (_, named) = report(&[&app, &dir.join("nginx-access.log")]);
    assert_eq!(told["edge"]["causes"], named["edge"]["causes"]);
    assert_eq!(told["requests"]["total"], named["requests"]["total"]);
    let source = told["edge"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == front.as_str())
        .unwrap();
    assert_eq!(
        (&source["role"], &source["why"]),
        (&"edge".into(), &"declared".into())
    );
    // Untold, nginx's lines alone are read as gunicorn's, and the report says it could not tell.
    let (_, alone) = report(&[Path::new(&front)]);
    assert_eq!(alone["edge"]["present"], false);
    assert!(alone["requests"]["total"].as_u64().unwrap() > 0);
    let ids: Vec<&str> = alone["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"edge_or_app_unclear"), "{ids:?}");
    assert_eq!(alone["edge"]["sources"][0]["unclear"], true);
}

#[test]
fn a_malformed_edge_line_is_unrecognised_never_paired() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/edge_timeout_short");
    let error = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap();
    let tmp = common::Tmp::new("edge-malformed");
    // Each error line cut short before its fields, and one with its level mangled.
    let cut: String = error
        .lines()
        .map(|l| format!("{}\n", &l[..l.find(", client:").unwrap()]))
        .chain(
            error
                .lines()
                .map(|l| format!("{}\n", l.replacen("[error]", "[err\u{1b}]", 1))),
        )
        .collect();
    let bad = tmp.file("nginx-error.log", cut.as_bytes());
    let (_, v) = report(&[&dir.join("app.log"), Path::new(&bad)]);
    let lines = error.lines().count() as u64 * 2;
    assert_eq!(v["input"]["unrecognized"], lines);
    assert_eq!(v["edge"]["present"], false);
    assert_eq!(v["edge"]["failures"], serde_json::json!([]));
}

/// How a syslog daemon's file stamps a line.
#[derive(Clone, Copy, Debug)]
enum Stamp {
    /// rsyslog's default file format (`RSYSLOG_FileFormat`, Debian 12's):
    /// `2026-12-04T07:22:22.478000+00:00`.
    Offset,
    /// The same in UTC with a `Z`, as a sender's own stamp may be kept.
    Utc,
    /// The traditional format: `Dec  4 07:22:22`.
    Traditional,
}

/// `lines` (HAProxy's log) as a syslog daemon writes HAProxy's lines to a file with host
/// `host`: each request line behind its stamp (from the line's accept date) and
/// `host haproxy[pid]: `. HAProxy's own notices (its master's, on stderr) are left as they are.
fn syslogged(lines: &str, host: &str, stamp: Stamp) -> String {
    let months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    lines
        .lines()
        .map(|l| {
            if !l.starts_with(|c: char| c.is_ascii_digit()) {
                return format!("{l}\n");
            }
            // `[04/Dec/2026:07:22:22.478]`
            let d = &l[l.find('[').unwrap() + 1..];
            let (day, mon, year, clock, ms) =
                (&d[..2], &d[3..6], &d[7..11], &d[12..20], &d[21..24]);
            let m = months.find(mon).unwrap() / 3 + 1;
            let stamp = match stamp {
                Stamp::Offset => format!("{year}-{m:02}-{day}T{clock}.{ms}000+00:00"),
                Stamp::Utc => format!("{year}-{m:02}-{day}T{clock}.{ms}000Z"),
                Stamp::Traditional => format!("{mon} {:>2} {clock}", day.trim_start_matches('0')),
            };
            format!("{stamp} {host} haproxy[21370]: {l}\n")
        })
        .collect()
}

#[test]
fn haproxy_through_syslog_is_read_as_its_own_lines() {
    for dir in edge_dirs() {
        let t = truth(&dir);
        if t["edge"]["server"] != "haproxy" {
            continue;
        }
        let app = dir.join("app.log");
        let (_, straight) = report(&[&app, &dir.join("haproxy.log")]);
        assert!(straight["edge"]["requests"].as_u64().unwrap() > 0);
        let raw = std::fs::read_to_string(dir.join("haproxy.log")).unwrap();
        // Host names opening with the letters other edges' formats open with too.
        for host in [
            "lb1",
            "web01",
            "srv-2",
            "app",
            "gw",
            "haproxy-1",
            "10.0.0.2",
        ] {
            for stamp in [Stamp::Offset, Stamp::Utc, Stamp::Traditional] {
                let at = format!("{} as {host}'s, {stamp:?}", dir.display());
                let tmp = common::Tmp::new(&format!("haproxy-syslog-{host}-{stamp:?}"));
                let file = tmp.file("haproxy.log", syslogged(&raw, host, stamp).as_bytes());
                let (_, v) = report(&[&app, Path::new(&file)]);
                for key in ["requests", "status", "failed", "causes", "clock_skew"] {
                    assert_eq!(v["edge"][key], straight["edge"][key], "{at}: {key}");
                }
                assert_eq!(
                    v["input"]["unrecognized"], straight["input"]["unrecognized"],
                    "{at}"
                );
            }
        }
    }
}
