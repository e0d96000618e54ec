//! Following a live stream: alerts as things go wrong, one JSON object per event for log
//! shippers, the checklist at the end or on Ctrl-C, per-pod summaries. Every wait is bounded.

mod common;
use common::{interrupt, run, sample, Tmp};

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

#[test]
fn ndjson_has_one_object_per_request_and_alert_then_the_report() {
    for scenario in ["worker_timeout", "allowed_hosts", "healthy"] {
        let f = sample(scenario, "kubectl.log");
        let (code, out, _) = run(&["--format", "ndjson", &f]);
        let (batch_code, batch, _) = run(&["--format", "json", &f]);
        let batch: Value = serde_json::from_str(&batch).unwrap();
        assert_eq!(code, batch_code);
        let objects: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let last = objects.last().unwrap();
        assert_eq!(last["type"], "report");
        assert_eq!(last["requests"], batch["requests"], "{scenario}");
        let requests: Vec<&Value> = objects.iter().filter(|o| o["type"] == "request").collect();
        assert_eq!(
            requests.len() as u64,
            batch["requests"]["total"].as_u64().unwrap(),
            "{scenario}"
        );
        let orphaned = requests
            .iter()
            .filter(|r| r["outcome"] == "orphaned")
            .count() as u64;
        assert_eq!(orphaned, batch["requests"]["orphaned"].as_u64().unwrap());
        for r in &requests {
            assert!(
                r["method"].is_string() && r["path"].is_string() && r["line"].as_u64() > Some(0)
            );
            assert_eq!(r["pod"], "web-7d9f8b6c4-x2x9q/web");
        }
        let alerts: Vec<&Value> = objects.iter().filter(|o| o["type"] == "alert").collect();
        let kinds = |k: &str| alerts.iter().filter(|a| a["alert"] == k).count() as u64;
        assert_eq!(
            kinds("worker_timeout"),
            batch["server"]["worker_timeouts"].as_u64().unwrap()
        );
        assert_eq!(
            kinds("new_disallowed_host"),
            batch["disallowed_hosts"].as_array().unwrap().len() as u64
        );
    }
}

/// `reqtrail --follow` fed through a pipe: the child, its stdout lines, its stdin.
fn follow(
    extra: &[&str],
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    std::process::ChildStdin,
) {
    let mut args = vec!["--follow"];
    args.extend(extra);
    fed(&args)
}

/// `reqtrail` fed through a pipe: the child, its stdout lines, its stdin.
fn fed(
    args: &[&str],
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    std::process::ChildStdin,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--color", "never"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let stdin = child.stdin.take().unwrap();
    (child, rx, stdin)
}

/// Reads the child's stdout lines on a thread, so the test can wait with a deadline.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < limit {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = l.contains(what);
            seen.push(l);
            if hit {
                return seen;
            }
        }
    }
    panic!("no line with {what:?} within {limit:?}; saw {seen:?}");
}

fn now_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // gunicorn's own timestamp, from the report's RFC 3339 text (`2025-10-16T08:00:00.000Z`).
    let text = reqtrail::time::Ts(secs * 1_000_000).to_rfc3339();
    format!("[{} {} +0000]", &text[..10], &text[11..19])
}

/// A stream read without `--follow` (`kubectl logs -f … | reqtrail --format ndjson`): each
/// event goes out as its line comes, not in a block when the input ends (as a file's do).
#[test]
fn ndjson_from_a_stream_goes_out_as_it_happens() {
    let (mut child, rx, mut stdin) = fed(&["--format", "ndjson"]);
    writeln!(
        stdin,
        "{} [7] [ERROR] Invalid HTTP_HOST header: 'evil.example.com'. \
         You may need to add 'evil.example.com' to ALLOWED_HOSTS.",
        now_prefix()
    )
    .unwrap();
    stdin.flush().unwrap();
    // The input goes on: the alert must not wait for its end.
    wait_for(&rx, "new_disallowed_host", Duration::from_secs(10));
    drop(stdin);
    wait_for(&rx, "\"type\":\"report\"", Duration::from_secs(10));
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn follow_alerts_on_a_hang_while_no_line_comes_then_reports_at_the_end() {
    let (mut child, rx, mut stdin) = follow(&["--timeout", "1"]);
    writeln!(
        stdin,
        "{} [7] [INFO] INCOMING REQUEST: GET /hang/ from 10.0.0.1 Host: app.example.com",
        now_prefix()
    )
    .unwrap();
    stdin.flush().unwrap();
    // Nothing else is written: the alert must come from the clock, not from a later line.
    let seen = wait_for(&rx, "ALERT request_open_too_long", Duration::from_secs(10));
    assert!(seen.last().unwrap().contains("GET /hang/"), "{seen:?}");
    writeln!(
        stdin,
        "{} [1] [CRITICAL] WORKER TIMEOUT (pid:7)",
        now_prefix()
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for(
        &rx,
        "ALERT worker_timeout: worker 7 timed out while serving GET /hang/",
        Duration::from_secs(10),
    );
    drop(stdin);
    let seen = wait_for(
        &rx,
        "Every logged request answered",
        Duration::from_secs(10),
    );
    assert!(seen.iter().any(|l| l.starts_with("reqtrail ")), "{seen:?}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn ctrl_c_prints_the_checklist() {
    let (mut child, rx, mut stdin) = follow(&[]);
    let f = std::fs::read(sample("healthy", "docker.log")).unwrap();
    stdin.write_all(&f).unwrap();
    // A line that alerts: once its alert is out, every line before it has been read.
    writeln!(
        stdin,
        "{} [1] [CRITICAL] WORKER TIMEOUT (pid:999)",
        now_prefix()
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for(&rx, "ALERT worker_timeout", Duration::from_secs(10));
    interrupt(&child);
    let seen = wait_for(&rx, "No server errors", Duration::from_secs(10));
    assert!(seen.iter().any(|l| l.contains("requests 13 ")), "{seen:?}");
    let status = child.wait().unwrap();
    assert!(status.code().is_some(), "exited by itself, not killed");
    drop(stdin);
}

/// A child stopped by its PID however the test ends: one following a file never ends by itself.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--follow` on a file keeps up with it as `tail -F` does: through `copytruncate`, a rename
/// and a new file, a delete and a new file, every new line is read, and numbered from the new
/// file's first line.
#[test]
fn following_a_file_goes_on_through_its_rotations() {
    let t = Tmp::new("follow");
    let path = t.0.join("error.log");
    let append = |host: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        writeln!(
            f,
            "{} [7] [ERROR] Invalid HTTP_HOST header: '{host}'. \
             You may need to add '{host}' to ALLOWED_HOSTS.",
            now_prefix()
        )
        .unwrap();
    };
    append("first.example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--follow", "--format", "ndjson", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let child = Stopped(child);
    // The alert for `host`'s line, and the line number it cites.
    let alerted = |host: &str| -> u64 {
        let seen = wait_for(&rx, &format!("new Host: {host}"), Duration::from_secs(10));
        let v: Value = serde_json::from_str(seen.last().unwrap()).unwrap();
        v["line"].as_u64().unwrap()
    };
    assert_eq!(alerted("first.example"), 1);
    append("grown.example");
    assert_eq!(alerted("grown.example"), 2);

    std::fs::copy(&path, t.0.join("error.log.1")).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(0).unwrap();
    drop(file);
    append("truncated.example");
    assert_eq!(alerted("truncated.example"), 1, "after copytruncate");

    std::fs::rename(&path, t.0.join("error.log.2")).unwrap();
    append("renamed.example");
    assert_eq!(alerted("renamed.example"), 1, "after a rename");

    std::fs::remove_file(&path).unwrap();
    append("recreated.example");
    assert_eq!(alerted("recreated.example"), 1, "after a delete");

    interrupt(&child.0);
    let seen = wait_for(&rx, "\"type\":\"report\"", Duration::from_secs(10));
    let report: Value = serde_json::from_str(seen.last().unwrap()).unwrap();
    assert_eq!(report["disallowed_hosts"].as_array().unwrap().len(), 5);
}
