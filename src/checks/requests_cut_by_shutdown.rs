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
    // Which planned stop cut them: the server's, a reload's, or either (both in the input).
    let (stopped, told) = match (a.workers.stops > 0, a.workers.reloads > 0) {
        (false, true) => (
            "The workers were replaced by a reload, not crashed",
            "gunicorn was reloaded (Handling signal: hup) and replaced its workers",
        ),
        (true, true) => (
            "The server was stopped or reloaded, not crashed",
            "gunicorn was told to stop (Handling signal: term) or to reload (Handling signal: hup)",
        ),
        _ => (
            "The server was stopped, not crashed",
            "gunicorn was told to stop (Handling signal: term)",
        ),
    };
    findings.push(Finding {
        id: "requests_cut_by_shutdown",
        severity: Severity::Warn,
        title: format!(
            "{stopped}: {} still open when {} went down ({})",
            plural(n, "request was", "requests were"),
            if n == 1 { "its worker" } else { "their workers" },
            paths.join("; ")
        ),
        detail: format!(
            "{told}, and its workers went down with these requests open; their clients got no answer.{}",
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::checks::diagnose;
    use crate::correlate::settle_timeout;
    use crate::settings::Settings;

    /// The finding's title for a log excerpt.
    fn title(lines: &[&str]) -> String {
        let settings = Arc::new(Settings::default());
        let text = lines.join("\n") + "\n";
        let a = crate::read::analyze_bytes("cut", text.as_bytes(), &settings);
        let timeout = settle_timeout(None, a.workers.timeout_from_logs, &a.traffic.orphans);
        let d = diagnose(&a, &settings, timeout);
        let f = d
            .findings
            .iter()
            .find(|f| f.id == "requests_cut_by_shutdown");
        f.map(|f| format!("{} | {}", f.title, f.detail))
            .unwrap_or_default()
    }

    /// The stop that cut the requests is named as the logs name it: a reload (gunicorn 23's
    /// lines from sample-logs/stacks/g23-dj52/reload_hup) is no stop of the server.
    #[test]
    fn names_the_stop_or_the_reload_that_cut_the_requests() {
        let open = "[2026-12-04 08:33:22 +0000] [22472] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com";
        let boot = "[2026-12-04 08:33:21 +0000] [22472] [INFO] Booting worker with pid: 22472";
        let reload = title(&[
            boot,
            open,
            "[2026-12-04 08:33:22 +0000] [22442] [INFO] Handling signal: hup",
            "[2026-12-04 08:33:52 +0000] [22442] [ERROR] Worker (pid:22472) was sent SIGTERM!",
        ]);
        assert!(
            reload.starts_with("The workers were replaced by a reload, not crashed: 1 request was still open when its worker went down (GET /export/")
                && reload.contains("Handling signal: hup"),
            "{reload}"
        );
        let stop = title(&[
            boot,
            open,
            "[2026-12-04 08:33:22 +0000] [22442] [INFO] Handling signal: term",
            "[2026-12-04 08:33:52 +0000] [22442] [ERROR] Worker (pid:22472) was sent SIGTERM!",
        ]);
        assert!(
            stop.starts_with("The server was stopped, not crashed:")
                && stop.contains("Handling signal: term")
                && !stop.contains("hup"),
            "{stop}"
        );
    }
}
