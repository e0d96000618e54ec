//! Finding `sigkill_after_timeout` (info), about the workers_stable check: a SIGKILL after a
//! WORKER TIMEOUT is the timeout's escalation, though gunicorn 21+ prints `Perhaps out of memory?`.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.workers.kills_after_timeout > 0 {
        findings.push(Finding {
            id: "sigkill_after_timeout",
            severity: Severity::Info,
            title: format!("{} after a WORKER TIMEOUT is the timeout's escalation, not out-of-memory", plural(a.workers.kills_after_timeout, "SIGKILL", "SIGKILLs")),
            detail: "gunicorn sends SIGABRT on timeout and SIGKILL a moment later if the worker is still alive; since 21.0 it then prints `Perhaps out of memory?` regardless of the cause.".into(),
            fix: "Treat it as part of the timeout above; look for OOM only in kills with no timeout before them (or in `kubectl describe pod` → OOMKilled).".into(),
            evidence: a.workers.kill_evidence.iter().take(2).cloned().collect(),
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
            &["sigkill_after_timeout"],
            &[
                case(
                    "the timeout's SIGKILL",
                    &[
                        "[2026-11-28 03:47:01 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27237)",
                        "[2026-11-28 03:47:01 +0000] [27234] [ERROR] Worker (pid:27237) was sent SIGKILL! Perhaps out of memory?",
                    ],
                    Status::Fail,
                    &["worker_timeout", "sigkill_after_timeout"],
                ),
                case(
                    "a timeout the worker survived to its SIGABRT",
                    &["[2026-11-28 03:47:01 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27237)"],
                    Status::Fail,
                    &["worker_timeout"],
                ),
            ],
        );
    }
}
