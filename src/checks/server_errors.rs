//! Check `server_errors` (No server errors): no 5xx responses. FAIL when 5xx are a tenth of the
//! responses or more, WARN below that, PASS with none, UNKNOWN with no status logged.
//!
//! Finding `server_errors` (same rank), unless every 5xx was gunicorn's answer to a timed-out
//! request (the worker_timeout finding tells those): the top exception types and their tracebacks.

use super::words::{plural, top_exceptions};
use super::{Check, Facts, Finding, Severity, Status};
use crate::correlate::Cause;

/// Pushes the check, then its finding when the facts call for it.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let n5xx: u64 = a.traffic.status.range(500..).map(|(_, n)| n).sum();
    let with_status: u64 = a.traffic.status.values().sum();
    let top = top_exceptions(a);
    let codes: Vec<String> = a
        .traffic
        .status
        .range(500..)
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    checks.push(Check {
        id: "server_errors",
        title: "No server errors",
        expected: "no 5xx responses".into(),
        actual: if with_status == 0 {
            "no response status in the logs".into()
        } else if n5xx == 0 {
            format!("0 of {with_status} responses 5xx")
        } else {
            format!(
                "{n5xx} of {with_status} responses 5xx ({}){}",
                codes.join(", "),
                if top.is_empty() {
                    String::new()
                } else {
                    format!("; exceptions: {}", top.join(", "))
                }
            )
        },
        status: if with_status == 0 {
            Status::Unknown
        } else if n5xx == 0 {
            Status::Pass
        } else if n5xx * 10 >= with_status {
            Status::Fail
        } else {
            Status::Warn
        },
        evidence: a.errors.server_error_evidence.clone(),
    });
    if n5xx > 0 {
        // gunicorn's own 500s to timed-out requests are told by the worker-timeout finding.
        let timeout_5xx = a
            .traffic
            .orphans
            .iter()
            .filter(|o| {
                o.cause == Cause::WorkerTimeout && o.client_status.is_some_and(|s| s >= 500)
            })
            .count() as u64;
        let only_timeouts = n5xx == timeout_5xx;
        if !only_timeouts {
            findings.push(Finding {
                id: "server_errors",
                severity: if n5xx * 10 >= with_status { Severity::Fail } else { Severity::Warn },
                title: format!(
                    "{} answered 5xx{}",
                    plural(n5xx, "request was", "requests were"),
                    if top.is_empty() { String::new() } else { format!(" ({})", top.join(", ")) }
                ),
                detail: "The app raised while handling these; the traceback after each evidence line names the code.".into(),
                fix: "Read the traceback under the first evidence line and fix the exception; add a test for that path.".into(),
                evidence: a.errors.server_error_evidence.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        judge(
            "server_errors",
            &["server_errors"],
            &[
                case(
                    "no 5xx",
                    &[r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#],
                    Status::Pass,
                    &[],
                ),
                case(
                    "no status logged",
                    &["[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0"],
                    Status::Unknown,
                    &[],
                ),
                case(
                    "the view raised",
                    &[
                        "[2026-11-28 03:46:59 +0000] [27067] [ERROR] Internal Server Error: /boom/",
                        "Traceback (most recent call last):",
                        r#"  File "/app/djapp/views.py", line 33, in boom"#,
                        "    return HttpResponse(str(1 / 0))",
                        "ZeroDivisionError: division by zero",
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "Mozilla/5.0""#,
                    ],
                    Status::Fail,
                    &["server_errors"],
                ),
                case(
                    "one 5xx in eleven",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:50 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:51 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:52 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:54 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:55 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:56 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:57 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "Mozilla/5.0""#,
                    ],
                    Status::Warn,
                    &["server_errors"],
                ),
                case(
                    "only gunicorn's 500 to a timed-out request",
                    &[
                        "[2026-11-28 03:46:58 +0000] [27238] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:47:31 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27238)",
                        r#"127.0.0.1 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 500 0 "-" "-""#,
                    ],
                    Status::Fail,
                    &["worker_timeout"],
                ),
            ],
        );
    }
}
