//! Finding `worker_timeout` (fail), about the workers_stable check: requests hung their worker past
//! the timeout, grouped by route with how long each stayed open and what the client got.

use std::collections::BTreeMap;

use super::words::{fmt_secs, plural};
use super::{Check, Facts, Finding, Severity};
use crate::correlate::{Cause, Evidence, Orphan};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    // Timed-out requests, grouped by what hung.
    let timeout_orphans: Vec<&Orphan> = a
        .traffic
        .orphans
        .iter()
        .filter(|o| o.cause == Cause::WorkerTimeout)
        .collect();
    if a.workers.timeouts > 0 {
        let mut by_route: BTreeMap<(String, String), (u64, f64, Vec<&Orphan>)> = BTreeMap::new();
        for o in &timeout_orphans {
            let e = by_route
                .entry((o.request.method.clone(), o.request.path.clone()))
                .or_default();
            e.0 += 1;
            e.1 = e.1.max(o.request.open_seconds.unwrap_or(0.0));
            e.2.push(o);
        }
        let mut routes: Vec<_> = by_route.into_iter().collect();
        routes.sort_by(|x, y| y.1 .0.cmp(&x.1 .0).then(x.0.cmp(&y.0)));
        let hung: Vec<String> = routes
            .iter()
            .map(|((m, p), (n, longest, os))| {
                let status = os.iter().find_map(|o| o.client_status);
                format!(
                    "{m} {p} ×{n} (open {longest:.1} s{})",
                    status
                        .map(|s| format!(", client got gunicorn's {s}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let mut evidence: Vec<Evidence> = Vec::new();
        if let Some(o) = timeout_orphans.first() {
            evidence.push(o.request.start_evidence.clone());
            evidence.extend(o.cause_evidence.clone());
        } else {
            evidence.extend(a.workers.timeout_evidence.iter().take(2).cloned());
        }
        let first_path = routes
            .first()
            .map(|r| r.0 .1.clone())
            .unwrap_or_else(|| "the slow view".into());
        findings.push(Finding {
            id: "worker_timeout",
            severity: Severity::Fail,
            title: if hung.is_empty() {
                format!("{} (the hung request is not in the logs)", plural(a.workers.timeouts, "worker timed out", "workers timed out"))
            } else {
                format!("Requests hung their worker past the {}-second timeout: {}", fmt_secs(f.timeout.seconds), hung.join("; "))
            },
            detail: format!(
                "gunicorn's master killed {} that stayed silent longer than --timeout {} s ({}). A sync worker serves one request at a time, so each hang also blocks every request queued behind it.",
                plural(a.workers.timeouts, "worker", "workers"),
                fmt_secs(f.timeout.seconds),
                f.timeout.source
            ),
            fix: format!(
                "Find what {first_path} waits on (a slow query, an outgoing call without a timeout, a lock) and bound it well below {} s; move long work to a background job; raise --timeout only if the work is legitimately that long; gthread or gevent workers keep other requests flowing meanwhile.",
                fmt_secs(f.timeout.seconds)
            ),
            evidence,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        judge(
            "workers_stable",
            &["worker_timeout"],
            &[
                case(
                    "no timeout",
                    &["[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067"],
                    Status::Pass,
                    &[],
                ),
                case(
                    "a request hung its worker",
                    &[
                        "[2026-11-28 03:46:58 +0000] [27238] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:47:31 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27238)",
                        r#"127.0.0.1 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 500 0 "-" "-""#,
                    ],
                    Status::Fail,
                    &["worker_timeout"],
                ),
                case(
                    "the hung request is not in the logs",
                    &["[2026-11-28 03:47:31 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27238)"],
                    Status::Fail,
                    &["worker_timeout"],
                ),
            ],
        );
    }
}
