//! Finding `requests_in_flight` (warn), about the requests_answered check: requests still open when
//! the input ended and nothing orphaned; they may yet be answered.

use super::words::{fmt_secs, plural};
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let in_flight = f.in_flight;
    if in_flight > 0 && a.traffic.orphans_total == 0 {
        let mut paths: Vec<String> = Vec::new();
        for o in &a.traffic.in_flight {
            let age = o
                .open_seconds
                .map(|s| format!("open {s:.1} s"))
                .unwrap_or_else(|| "age unknown".into());
            let s = format!("{} {} ({age})", o.method, o.path);
            if paths.len() < 5 && !paths.contains(&s) {
                paths.push(s);
            }
        }
        findings.push(Finding {
            id: "requests_in_flight",
            severity: Severity::Warn,
            title: format!(
                "{} still open when the input ended: {}",
                plural(in_flight, "request was", "requests were"),
                paths.join("; ")
            ),
            detail: format!(
                "Each has its INCOMING REQUEST line and no RESPONSE yet. Younger than the {} s timeout (or without timestamps to tell), it may still be answered; a request that never is looks exactly like this.",
                fmt_secs(f.timeout.seconds)
            ),
            fix: "Read a longer stretch of the logs (or run again later) to see whether it ends; if it never does, look at what the path does after it is logged.".into(),
            evidence: a.traffic.in_flight.iter().take(3).map(|o| o.start_evidence.clone()).collect(),
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
            &["requests_in_flight"],
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
                    "open when the input ends",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                    ],
                    Status::Warn,
                    &["requests_in_flight"],
                ),
                case(
                    "open at the end beside one never answered",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27064] [ERROR] Worker (pid:27067) exited with code 1",
                        "[2026-11-28 03:46:55 +0000] [27068] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                    ],
                    Status::Fail,
                    &["requests_orphaned"],
                ),
            ],
        );
    }
}
