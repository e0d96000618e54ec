//! Finding `requests_orphaned` (fail), about the requests_answered check: requests logged and never
//! answered for a cause other than a worker timeout (which worker_timeout tells) or a stop of the
//! server (which requests_cut_by_shutdown tells), up to five paths.

use super::words::{cause_words, plural};
use super::{Check, Facts, Finding, Severity};
use crate::correlate::{Cause, Evidence, Orphan};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let other_orphans: Vec<&Orphan> = a
        .traffic
        .orphans
        .iter()
        .filter(|o| !matches!(o.cause, Cause::WorkerTimeout | Cause::Shutdown))
        .collect();
    let other_total: u64 = a
        .traffic
        .orphan_causes
        .iter()
        .filter(|(c, _)| !matches!(c, Cause::WorkerTimeout | Cause::Shutdown))
        .map(|(_, n)| n)
        .sum();
    if other_total > 0 {
        let mut paths: Vec<String> = Vec::new();
        for o in &other_orphans {
            let s = format!(
                "{} {} ({})",
                o.request.method,
                o.request.path,
                cause_words(o.cause)
            );
            if !paths.contains(&s) && paths.len() < 5 {
                paths.push(s);
            }
        }
        let mut evidence: Vec<Evidence> = Vec::new();
        for o in other_orphans.iter().take(2) {
            evidence.push(o.request.start_evidence.clone());
            evidence.extend(o.cause_evidence.clone());
        }
        findings.push(Finding {
            id: "requests_orphaned",
            severity: Severity::Fail,
            title: format!("{} logged but never answered: {}", plural(other_total, "request was", "requests were"), paths.join("; ")),
            detail: "Each of these has an INCOMING REQUEST line and no RESPONSE: the worker died, moved on, or the input ended while it was still open past the timeout.".into(),
            fix: "Look at what each path does after it is logged (the evidence shows where it stopped); a worker killed mid-request points at memory or a crash in native code.".into(),
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
            "requests_answered",
            &["requests_orphaned"],
            &[
                case(
                    "answered",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "the worker died mid-request",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27064] [ERROR] Worker (pid:27067) exited with code 1",
                    ],
                    Status::Fail,
                    &["requests_orphaned"],
                ),
                case(
                    "timed out: told by worker_timeout",
                    &[
                        "[2026-11-28 03:46:58 +0000] [27238] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:47:31 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27238)",
                    ],
                    Status::Fail,
                    &["worker_timeout"],
                ),
            ],
        );
    }
}
