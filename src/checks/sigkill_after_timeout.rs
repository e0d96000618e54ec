//! Finding `sigkill_after_timeout` (info), about the workers_stable check: a SIGKILL after a
//! WORKER TIMEOUT is the timeout's escalation, though gunicorn 21+ prints `Perhaps out of memory?`.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.kills_after_timeout > 0 {
        findings.push(Finding {
            id: "sigkill_after_timeout",
            severity: Severity::Info,
            title: format!("{} after a WORKER TIMEOUT is the timeout's escalation, not out-of-memory", plural(a.kills_after_timeout, "SIGKILL", "SIGKILLs")),
            detail: "gunicorn sends SIGABRT on timeout and SIGKILL a moment later if the worker is still alive; since 21.0 it then prints `Perhaps out of memory?` regardless of the cause.".into(),
            fix: "Treat it as part of the timeout above; look for OOM only in kills with no timeout before them (or in `kubectl describe pod` → OOMKilled).".into(),
            evidence: a.kill_evidence.iter().take(2).cloned().collect(),
        });
    }
}
