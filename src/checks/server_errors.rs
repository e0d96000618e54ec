//! Check `server_errors` (No server errors): no 5xx responses. FAIL when 5xx are a tenth of the
//! responses or more, WARN below that, PASS with none, UNKNOWN with no status logged.
//!
//! Finding `server_errors` (same rank), unless every 5xx was gunicorn's answer to a timed-out
//! request (the worker_timeout finding tells those): the top exception types and their tracebacks.

use super::words::plural;
use super::{Check, Facts, Finding, Severity, Status};
use crate::correlate::Cause;

/// Pushes the check, then its finding when the facts call for it.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let n5xx: u64 = a.status.range(500..).map(|(_, n)| n).sum();
    let with_status: u64 = a.status.values().sum();
    let mut types: Vec<(&String, &u64)> = a.exception_types.iter().collect();
    types.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    let top: Vec<String> = types
        .iter()
        .take(3)
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect();
    let codes: Vec<String> = a
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
        evidence: a.server_error_evidence.clone(),
    });
    if n5xx > 0 {
        // gunicorn's own 500s to timed-out requests are told by the worker-timeout finding.
        let timeout_5xx = a
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
                evidence: a.server_error_evidence.clone(),
            });
        }
    }
}
