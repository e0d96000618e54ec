//! Check `public_routes_answered` (Public routes answered): external requests reach the app and
//! are answered below 500. FAIL when the bad ones (host rejected, 5xx, never answered) are half or
//! more, or nothing else; WARN on fewer bad ones, or on no external request at all (UNKNOWN then if
//! the app never booted); PASS otherwise. The finding no_external_traffic tells the no-request case.
//! A stop is planned, not a broken deployment: when the only bad ones were cut by a stop of the
//! server (orphan cause `shutdown`), WARN, however many; the line still counts them as never
//! answered, and the finding requests_cut_by_shutdown says their users lost them.

use super::words::requests_line;
use super::{Check, Facts, Finding, Status};

/// Pushes the check.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, _findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let external = &f.external;
    let good = external.ok + external.client_error - external.host_rejected;
    let bad = external.host_rejected + external.server_error + external.orphaned;
    let only_cut_by_stop = bad > 0 && bad == external.cut_by_shutdown;
    checks.push(Check {
        id: "public_routes_answered",
        title: "Public routes answered",
        expected: "external requests reach the app and are answered below 500".into(),
        actual: if external.total == 0 && edge_alone(f) {
            "the app's log was not read (only the edge's)".into()
        } else if external.total == 0 {
            "no external request reached the app".into()
        } else {
            requests_line(external, "external request")
        },
        status: if external.total == 0 {
            if a.workers.boot_failed || edge_alone(f) {
                Status::Unknown
            } else {
                Status::Warn
            }
        } else if only_cut_by_stop {
            Status::Warn
        } else if bad > 0 && (good == 0 || bad * 2 >= external.total) {
            Status::Fail
        } else if bad > 0 {
            Status::Warn
        } else if good > 0 {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: Vec::new(),
    });
}

/// Only an edge's log was read: the app's side is unknown, not empty.
fn edge_alone(f: &Facts<'_>) -> bool {
    !f.analysis.edge.is_empty() && !f.analysis.edge.app_side
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        judge(
            "public_routes_answered",
            &[],
            &[
                case(
                    "answered",
                    &[r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#],
                    Status::Pass,
                    &[],
                ),
                case(
                    "one 5xx in four",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /admin/ HTTP/1.1" 200 64 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /api/v1/reports/7/ HTTP/1.1" 200 38 "-" "Mozilla/5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "Mozilla/5.0""#,
                    ],
                    Status::Warn,
                    &[],
                ),
                case(
                    "only 5xx",
                    &[r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "Mozilla/5.0""#],
                    Status::Fail,
                    &[],
                ),
                case(
                    "the only lost ones were cut by a stop of the server: planned, a warning",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET /stuck/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27068] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:55 +0000] [27064] [INFO] Handling signal: term",
                        "[2026-11-28 03:46:56 +0000] [27064] [INFO] Shutting down: Master",
                    ],
                    Status::Warn,
                    &["requests_cut_by_shutdown"],
                ),
                case(
                    "cut by a stop, and a 5xx beside it: a failure as before",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "Mozilla/5.0""#,
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET /stuck/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:55 +0000] [27064] [INFO] Handling signal: term",
                        "[2026-11-28 03:46:56 +0000] [27064] [INFO] Shutting down: Master",
                    ],
                    Status::Fail,
                    &["requests_cut_by_shutdown"],
                ),
                case(
                    "only probes came",
                    &[r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#],
                    Status::Warn,
                    &[],
                ),
                case(
                    "the app never booted",
                    &[
                        "[2026-11-28 03:47:14 +0000] [29819] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:47:14 +0000] [29819] [ERROR] Reason: Worker failed to boot.",
                    ],
                    Status::Unknown,
                    &[],
                ),
                case(
                    "only the edge's log",
                    &[r#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com request_id=1 fwd="203.0.113.7" dyno=web.1 connect=1ms service=12ms status=200 bytes=512 protocol=https"#],
                    Status::Unknown,
                    &[],
                ),
            ],
        );
    }
}
