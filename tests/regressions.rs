//! Regressions found in review, each named after what went wrong, on small hand-written logs
//! (the correlation rules under test are about line order, which these spell out exactly).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::interrupt;

fn json_of(log: &str, extra: &[&str]) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--format", "json"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn finding_ids(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn check(r: &Value, id: &str) -> String {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_pod_that_goes_silent_mid_request_is_not_answered() {
    let r = json_of(
        "[pod/web-a/web] 2025-10-16T08:00:00.000Z [2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /upload/ from 1.2.3.4 Host: app.example.com\n\
         [pod/web-b/web] 2025-10-16T08:00:01.000Z [2025-10-16 08:00:01 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com\n\
         [pod/web-b/web] 2025-10-16T08:00:01.100Z [2025-10-16 08:00:01 +0000] [36] [INFO] RESPONSE: GET /login/ -> 200\n\
         [pod/web-b/web] 2025-10-16T08:05:00.000Z [2025-10-16 08:05:00 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com\n\
         [pod/web-b/web] 2025-10-16T08:05:00.100Z [2025-10-16 08:05:00 +0000] [36] [INFO] RESPONSE: GET /login/ -> 200\n",
        &[],
    );
    let o = &r["orphans"][0];
    assert_eq!(o["path"], "/upload/");
    assert_eq!(o["cause"], "open_at_end");
    // Aged by the input's end, not by its own pod's last line.
    assert!(o["open_seconds"].as_f64().unwrap() > 299.0, "{o}");
    assert_eq!(check(&r, "requests_answered"), "FAIL");
    assert_eq!(r["pods"].as_array().unwrap().len(), 2);
}

#[test]
fn a_lone_unanswered_incoming_is_not_counted_as_answered() {
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /admin/ from 10.1.1.1 Host: app.example.com\n",
        &[],
    );
    assert_eq!(r["requests"]["answered"], 0, "{}", r["requests"]);
    assert_eq!(r["requests"]["in_flight"], 1);
    assert_ne!(check(&r, "requests_answered"), "PASS");
}

#[test]
fn concurrent_requests_on_an_unannounced_threaded_worker_are_not_double_counted() {
    // No `Using worker:` line (the log starts after boot): a sync worker is assumed until
    // the pid answers a request it had supposedly moved on from.
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /login/ -> 200\n\
         [2025-10-16 08:00:02 +0000] [36] [INFO] RESPONSE: GET /slow/ -> 200\n",
        &[],
    );
    assert_eq!(r["requests"]["total"], 2, "{}", r["requests"]);
    assert_eq!(r["requests"]["orphaned"], 0);
    assert_ne!(
        r["requests"]["pairing"]["confidence"], "high",
        "the pairing was unsure once"
    );
}

#[test]
fn a_rejected_host_is_pinned_to_its_own_thread_not_a_concurrent_probe() {
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [1] [INFO] Using worker: gthread\n\
         INFO 2025-10-16 08:00:00,100 middleware 30 111 INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: shop.example.org\n\
         INFO 2025-10-16 08:00:00,101 middleware 30 222 K8s internal request from 10.1.2.3 - bypassing ALLOWED_HOSTS\n\
         INFO 2025-10-16 08:00:00,101 middleware 30 222 INCOMING REQUEST: GET /health/ from 10.1.2.3 Host: 10.1.2.3:8000\n\
         ERROR 2025-10-16 08:00:00,102 exception 30 111 Invalid HTTP_HOST header: 'shop.example.org'. You may need to add 'shop.example.org' to ALLOWED_HOSTS.\n\
         INFO 2025-10-16 08:00:00,103 middleware 30 111 RESPONSE: GET /login/ -> 400\n\
         INFO 2025-10-16 08:00:00,104 middleware 30 222 RESPONSE: GET /health/ -> 200\n",
        &[],
    );
    assert_eq!(r["disallowed_hosts"][0]["kind"], "domain");
    assert!(!finding_ids(&r).contains(&"probe_host_rejected".to_string()));
    assert_eq!(r["requests"]["by_class"]["external"]["host_rejected"], 1);
    assert_eq!(r["requests"]["by_class"]["probe"]["ok"], 1);
}

#[test]
fn a_kill_during_a_graceful_stop_is_not_out_of_memory() {
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [1] [INFO] Starting gunicorn 23.0.0\n\
         [2025-10-16 08:00:00 +0000] [1] [INFO] Using worker: sync\n\
         [2025-10-16 08:00:00 +0000] [36] [INFO] Booting worker with pid: 36\n\
         [2025-10-16 08:00:01 +0000] [36] [INFO] INCOMING REQUEST: GET /export/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:05 +0000] [1] [INFO] Handling signal: term\n\
         [2025-10-16 08:00:35 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?\n\
         [2025-10-16 08:00:35 +0000] [1] [INFO] Shutting down: Master\n",
        &[],
    );
    assert_eq!(r["server"]["oom_suspected"], 0);
    assert_eq!(r["server"]["kills_during_shutdown"], 1);
    assert!(!finding_ids(&r).contains(&"oom_suspected".to_string()));
    // Cut by the stop (issue 18): not a worker killed, not in flight.
    assert_eq!(r["orphans"][0]["cause"], "shutdown");
}

#[test]
fn app_5xx_are_reported_even_next_to_a_worker_timeout() {
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [1] [INFO] Using worker: sync\n\
         [2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:31 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)\n\
         [2025-10-16 08:00:32 +0000] [37] [INFO] INCOMING REQUEST: POST /pay/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:32 +0000] [37] [INFO] RESPONSE: POST /pay/ -> 502\n",
        &[],
    );
    assert!(
        finding_ids(&r).contains(&"server_errors".to_string()),
        "{:?}",
        finding_ids(&r)
    );
}

#[test]
fn the_inferred_timeout_also_judges_requests_open_at_the_end() {
    let r = json_of(
        "[2025-10-16 08:00:00 +0000] [1] [INFO] Using worker: sync\n\
         [2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:02 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)\n\
         [2025-10-16 08:00:03 +0000] [37] [INFO] INCOMING REQUEST: GET /ok/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:03 +0000] [37] [INFO] RESPONSE: GET /ok/ -> 200\n\
         [2025-10-16 08:00:05 +0000] [38] [INFO] INCOMING REQUEST: GET /stuck/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:20 +0000] [37] [INFO] INCOMING REQUEST: GET /ok/ from 1.2.3.4 Host: app.example.com\n\
         [2025-10-16 08:00:20 +0000] [37] [INFO] RESPONSE: GET /ok/ -> 200\n",
        &[],
    );
    assert_eq!(r["server"]["timeout_seconds"], 2.0);
    let stuck = r["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "/stuck/")
        .cloned();
    assert_eq!(stuck.expect("/stuck/ is an orphan")["cause"], "open_at_end");
}

#[test]
fn many_distinct_pods_and_many_open_requests_stay_cheap() {
    let mut log = String::new();
    for k in 0..5_000 {
        log.push_str(&format!("svc{k}  | [2025-10-16 08:00:00 +0000] [7] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h\n"));
    }
    log.push_str("[2025-10-16 08:00:00 +0000] [1] [INFO] Using worker: gthread\n");
    for _ in 0..20_000 {
        log.push_str("[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /x/ from 1.2.3.4 Host: h\n");
    }
    for k in 0..20_000 {
        log.push_str(&format!(
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /y{k}/ -> 200\n"
        ));
    }
    let start = Instant::now();
    let r = json_of(&log, &[]);
    // Generous even for a debug build on a busy machine; quadratic code took minutes.
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(r["pods"].as_array().unwrap().len() <= 1000);
    assert_eq!(r["input"]["lines"], 45_001);
}

#[test]
fn follow_keeps_a_half_written_line_until_its_end_arrives() {
    let dir = std::env::temp_dir().join(format!("reqtrail-grow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.log");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h\n[2025-10-16 08:00:00 +0000] [36] [INFO] RESPO").unwrap();
    f.flush().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--follow", "--format", "json", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    f.write_all(b"NSE: GET /a/ -> 200\n").unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["input"]["lines"], 2, "{}", r["input"]);
    assert_eq!(r["input"]["unrecognized"], 0);
    assert_eq!(r["requests"]["answered"], 1);
}
