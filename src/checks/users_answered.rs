//! Check `users_answered` (Users answered at the edge): of the requests users made through the
//! edge (nginx, a load balancer, a platform router), how many got an answer below 500, and what
//! happened on the app's side of the rest. Present only when an edge's log was read, or when
//! an input is access lines alone (which could be an edge's). FAIL when 1 % or more of the
//! user requests got a 5xx, WARN below that or when users' 400s are Django rejecting their
//! Host, PASS when every user request got below 500, UNKNOWN with no access line at the edge.
//!
//! Finding `edge_without_app_log` (info): only the edge's log was read, so no failure can be
//! explained from the app's side. Finding `edge_or_app_unclear` (info): an input is access lines
//! alone, read as gunicorn's; nothing said whether they are a proxy's.

use std::collections::BTreeMap;

use super::words::{app_cause_words, edge_label, plural};
use super::{Check, Facts, Finding, Severity, Status};
use crate::correlate::edge::{EdgeFacts, SourceFacts};
use crate::correlate::users::AppCause;

/// `app_error ×2, worker_timeout ×1`, most frequent first, in words.
fn top_causes(causes: &BTreeMap<AppCause, u64>) -> String {
    let mut c: Vec<(&AppCause, &u64)> = causes.iter().collect();
    c.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    c.iter()
        .take(3)
        .map(|(k, n)| format!("{} ×{n}", app_cause_words(**k)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The edges read, by name: `nginx`, `nginx and ingress-nginx`.
fn edge_names(e: &EdgeFacts) -> String {
    let names: Vec<&str> = e.edges.keys().map(|k| edge_label(*k)).collect();
    match names.as_slice() {
        [] => "the edge".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let e = &f.analysis.edge;
    let unclear: Vec<&SourceFacts> = e.unclear().collect();
    if !unclear.is_empty() {
        findings.push(unclear_finding(&unclear));
    }
    if e.is_empty() {
        if !unclear.is_empty() {
            checks.push(Check {
                id: "users_answered",
                title: "Users answered at the edge",
                expected: "user requests at the edge answered below 500".into(),
                actual: format!(
                    "no edge log recognised; {} read as gunicorn's",
                    plural(
                        unclear.iter().map(|s| s.app_access_lines).sum(),
                        "access line",
                        "access lines"
                    )
                ),
                status: Status::Unknown,
                evidence: Vec::new(),
            });
        }
        return;
    }
    let failed: u64 = e.status.range(500..).map(|(_, n)| n).sum();
    let with_status: u64 = e.status.values().sum();
    let rejected = e.causes.get(&AppCause::HostRejected).copied().unwrap_or(0);
    let edge = edge_names(e);
    let causes = top_causes(&e.causes);
    let actual = if with_status == 0 {
        format!(
            "no access line from {edge}; {} about the app",
            plural(e.upstream_errors, "error line", "error lines")
        )
    } else {
        let mut s = format!(
            "{} of {} at {edge} answered below 500",
            with_status - failed,
            plural(with_status, "user request", "user requests")
        );
        if failed > 0 || rejected > 0 {
            s.push_str(&format!("; app side: {causes}"));
        }
        // The reverse: what the app answered that no user sent through the edge.
        if f.probe.total > 0 {
            s.push_str(&format!(
                "; not users: {} straight to the app",
                plural(f.probe.total, "probe", "probes")
            ));
        }
        s
    };
    let status = if with_status == 0 {
        if e.failures_total > 0 {
            Status::Fail
        } else {
            Status::Unknown
        }
    } else if failed * 100 >= with_status && failed > 0 {
        Status::Fail
    } else if failed > 0 || rejected > 0 {
        Status::Warn
    } else {
        Status::Pass
    };
    checks.push(Check {
        id: "users_answered",
        title: "Users answered at the edge",
        expected: "user requests at the edge answered below 500".into(),
        actual,
        status,
        evidence: e
            .failures
            .iter()
            .flat_map(|x| x.evidence.first().cloned())
            .take(3)
            .collect(),
    });
    if !e.app_side {
        findings.push(Finding {
            id: "edge_without_app_log",
            severity: Severity::Info,
            title: format!("Only {edge}'s log was read: the app's side is missing"),
            detail: format!(
                "{} at {edge} cannot be explained from the app's side without its log: whether \
                 gunicorn timed out, crashed or never saw them.",
                plural(e.failures_total, "failure", "failures")
            ),
            fix: "Give the app's log beside the edge's: `reqtrail EDGE.log app.log` (or `docker compose logs` of both services, or `kubectl logs --prefix` of both).".into(),
            evidence: Vec::new(),
        });
    }
}

/// The finding for sources read as the app's with nothing but access lines (the report's
/// edge sources name them).
fn unclear_finding(sources: &[&SourceFacts]) -> Finding {
    let lines: u64 = sources.iter().map(|s| s.app_access_lines).sum();
    Finding {
        id: "edge_or_app_unclear",
        severity: Severity::Info,
        title: format!(
            "{} alone in {}: read as gunicorn's, though a proxy's look the same",
            plural(lines, "access line", "access lines"),
            plural(sources.len() as u64, "input", "inputs")
        ),
        detail: "nginx's `combined` access line and gunicorn's default one have the same shape, and nothing (a file or service name, --edge) said whose these are: they were counted as the app's requests.".into(),
        fix: "If they are nginx's (or another proxy's), say so: `reqtrail --edge FILE` or `edge = [\"FILE\"]` in reqtrail.toml; a compose service or kubectl container name works too.".into(),
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    const APP_SLOW: &[&str] = &[
        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
        "[2026-11-28 03:46:58 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
        "[2026-11-28 03:46:58 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
    ];

    #[test]
    fn cases() {
        judge(
            "users_answered",
            &["edge_without_app_log", "edge_or_app_unclear"],
            &[
                case(
                    "heroku router lines alone: all answered",
                    &[
                        r#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com request_id=8601b555-6a76-4a8e-9c4b-3e1f0d2c7b9a fwd="203.0.113.7" dyno=web.1 connect=1ms service=12ms status=200 bytes=512 protocol=https"#,
                    ],
                    Status::Pass,
                    &["edge_without_app_log"],
                ),
                case(
                    "an H12 among two: half failed",
                    &[
                        r#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com request_id=1 fwd="203.0.113.7" dyno=web.1 connect=1ms service=12ms status=200 bytes=512 protocol=https"#,
                        r#"2026-11-28T03:48:01.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=shop.herokuapp.com request_id=2 fwd="203.0.113.7" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https"#,
                    ],
                    Status::Fail,
                    &["edge_without_app_log"],
                ),
                case(
                    "nginx error line alone: a failure without an access line",
                    &[
                        r#"2026/11/28 03:47:02 [error] 29#29: *7 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.7, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8000/", host: "app.example.com""#,
                    ],
                    Status::Fail,
                    &["edge_without_app_log"],
                ),
                case(
                    "access lines alone, nothing says whose",
                    &[
                        r#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0""#,
                    ],
                    Status::Unknown,
                    &["edge_or_app_unclear"],
                ),
            ],
        );
        // Without any edge or access-only input there is no such check.
        let settings = std::sync::Arc::new(crate::settings::Settings::default());
        let text = APP_SLOW.join("\n");
        let a = crate::read::analyze_bytes("app.log", text.as_bytes(), &settings);
        let t = crate::correlate::settle_timeout(None, None, &[]);
        let d = super::super::diagnose(&a, &settings, t);
        assert!(d.checks.iter().all(|c| c.id != "users_answered"));
    }
}
