//! Check `requests_answered` (Every logged request answered): each INCOMING REQUEST has its
//! RESPONSE. FAIL when some never got one, WARN when the only ones were cut by a stop of the
//! server (orphan cause `shutdown`: stopped, not crashed) or some were still open at the end of
//! the input (or dropped when too many were open at once), PASS when all finished, UNKNOWN with
//! no request. Its findings, requests_orphaned, requests_cut_by_shutdown and requests_in_flight,
//! come later in the report, in their own files.

use super::words::cause_words;
use super::{Check, Facts, Finding, Status};
use crate::correlate::Cause;

/// Pushes the check.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, _findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let in_flight = f.in_flight;
    let evicted: u64 = a.traffic.by_class.values().map(|c| c.evicted).sum();
    let gone: u64 = a.traffic.by_class.values().map(|c| c.client_gone).sum();
    let shutdown = a
        .traffic
        .orphan_causes
        .get(&Cause::Shutdown)
        .copied()
        .unwrap_or(0);
    let orphan_detail: Vec<String> = a
        .traffic
        .orphan_causes
        .iter()
        .map(|(c, n)| format!("{n} {}", cause_words(*c)))
        .collect();
    checks.push(Check {
        id: "requests_answered",
        title: "Every logged request answered",
        expected: "each INCOMING REQUEST has its RESPONSE".into(),
        actual: if a.traffic.total == 0 {
            "no requests in the logs".into()
        } else if a.traffic.orphans_total == 0 && in_flight > 0 {
            format!(
                "{} finished; {in_flight} still open when the input ended",
                a.traffic.total - in_flight - evicted
            )
        } else if a.traffic.orphans_total == 0 && evicted > 0 {
            format!(
                "{evicted} of {} still open when too many were open at once (not followed further)",
                a.traffic.total
            )
        } else if a.traffic.orphans_total == 0 && gone > 0 {
            format!(
                "all {} requests finished ({gone} whose client left before the answer)",
                a.traffic.total
            )
        } else if a.traffic.orphans_total == 0 {
            format!("all {} requests finished", a.traffic.total)
        } else {
            format!(
                "{} of {} never answered: {}",
                a.traffic.orphans_total,
                a.traffic.total,
                orphan_detail.join(", ")
            )
        },
        status: if a.traffic.total == 0 {
            Status::Unknown
        } else if a.traffic.orphans_total > shutdown {
            Status::Fail
        } else if shutdown > 0 || evicted > 0 || in_flight > 0 {
            Status::Warn
        } else {
            Status::Pass
        },
        evidence: a
            .traffic
            .orphans
            .iter()
            .take(3)
            .map(|o| o.request.start_evidence.clone())
            .collect(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        judge(
            "requests_answered",
            &[],
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
                    "no request",
                    &["[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0"],
                    Status::Unknown,
                    &[],
                ),
                case(
                    "the worker timed out",
                    &[
                        "[2026-11-28 03:46:58 +0000] [27238] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:47:31 +0000] [27234] [CRITICAL] WORKER TIMEOUT (pid:27238)",
                    ],
                    Status::Fail,
                    &[],
                ),
                case(
                    "cut by a stop of the server: stopped, not crashed",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27064] [INFO] Handling signal: term",
                        "[2026-11-28 03:47:24 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
                        "[2026-11-28 03:47:24 +0000] [27064] [INFO] Shutting down: Master",
                    ],
                    Status::Warn,
                    &["requests_cut_by_shutdown"],
                ),
                case(
                    "still open at the end",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                    ],
                    Status::Warn,
                    &[],
                ),
            ],
        );
    }
}
