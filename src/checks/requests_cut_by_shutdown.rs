//! Finding `requests_cut_by_shutdown` (warn), about the requests_answered check: requests still
//! open when gunicorn, told to stop (`Handling signal: term`), shut its workers down (orphan cause
//! `shutdown`). The server was stopped, not crashed: gunicorn 23 words such a stop like a death
//! (`[ERROR] Worker (pid:N) was sent SIGTERM!`, or `was sent SIGKILL! Perhaps out of memory?` past
//! --graceful-timeout), and neither is a crash or an out-of-memory kill.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};
use crate::correlate::{Cause, Evidence};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let n = a
        .traffic
        .orphan_causes
        .get(&Cause::Shutdown)
        .copied()
        .unwrap_or(0);
    if n == 0 {
        return;
    }
    let cut: Vec<_> = a
        .traffic
        .orphans
        .iter()
        .filter(|o| o.cause == Cause::Shutdown)
        .collect();
    let mut paths: Vec<String> = Vec::new();
    for o in &cut {
        let open = o
            .request
            .open_seconds
            .map(|s| format!(", open {s:.0} s"))
            .unwrap_or_default();
        let p = format!("{} {}{open}", o.request.method, o.request.path);
        if !paths.contains(&p) && paths.len() < 5 {
            paths.push(p);
        }
    }
    let mut evidence: Vec<Evidence> = Vec::new();
    for o in cut.iter().take(2) {
        evidence.push(o.request.start_evidence.clone());
        evidence.extend(o.cause_evidence.clone());
    }
    let killed = a.workers.kills_during_shutdown;
    findings.push(Finding {
        id: "requests_cut_by_shutdown",
        severity: Severity::Warn,
        title: format!(
            "The server was stopped, not crashed: {} still open when it shut down ({})",
            plural(n, "request was", "requests were"),
            paths.join("; ")
        ),
        detail: format!(
            "gunicorn was told to stop (Handling signal: term) and its workers went down with these requests open; their clients got no answer.{}",
            if killed > 0 {
                " A worker was killed for outliving --graceful-timeout while stopping; gunicorn's `Perhaps out of memory?` on that line is its stock wording, not evidence of memory trouble."
            } else {
                ""
            }
        ),
        fix: "Stop the server only once no traffic is routed to it (take it out of the load balancer or readiness first), so that a stop lets open requests finish; compare how long these paths were open with --graceful-timeout before changing it.".into(),
        evidence,
    });
}
