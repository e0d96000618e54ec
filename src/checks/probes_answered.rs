//! Checks `probes_answered` (Health probes answered) and `external_health_answered` (Health
//! endpoint answered, non-probe): the requests of that class answered 2xx/3xx. PASS when none
//! went wrong (a 4xx, a 5xx, never answered), UNKNOWN with no such request. A probe going wrong
//! is a FAIL; a health check from elsewhere is a FAIL only when none was answered well, a WARN
//! otherwise. No finding of their own: allowed_hosts tells a probe refused for its Host.

use super::words::requests_line;
use super::{Check, Facts, Finding, Status};
use crate::correlate::ClassStats;

/// The kubelet's (or a load balancer's) probes.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, _findings: &mut Vec<Finding>) {
    checks.push(answered_check(
        "probes_answered",
        "Health probes answered",
        "probe",
        &f.probe,
        false,
    ));
}

/// Requests for a health path that no probe sent (curl, a monitor).
pub fn run_external_health(f: &Facts<'_>, checks: &mut Vec<Check>, _findings: &mut Vec<Finding>) {
    checks.push(answered_check(
        "external_health_answered",
        "Health endpoint answered (non-probe)",
        "health check",
        &f.health,
        true,
    ));
}

fn answered_check(
    id: &'static str,
    title: &'static str,
    what: &str,
    s: &ClassStats,
    bad_is_fail_only_if_none_ok: bool,
) -> Check {
    let bad = s.client_error + s.server_error + s.orphaned;
    let status = if s.total == 0 || (s.ok == 0 && bad == 0) {
        Status::Unknown
    } else if bad == 0 {
        Status::Pass
    } else if s.ok == 0 || !bad_is_fail_only_if_none_ok {
        Status::Fail
    } else {
        Status::Warn
    };
    Check {
        id,
        title,
        expected: format!("{what}s answered 2xx/3xx"),
        actual: if s.total == 0 {
            format!("no {what} requests in the logs")
        } else {
            requests_line(s, what)
        },
        status,
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn probes() {
        judge(
            "probes_answered",
            &[],
            &[
                case(
                    "probe answered",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#,
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "probe answered 500",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /health/ HTTP/1.1" 500 145 "-" "kube-probe/1.32""#,
                    ],
                    Status::Fail,
                    &[],
                ),
                case(
                    "no probe",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                    ],
                    Status::Unknown,
                    &[],
                ),
            ],
        );
    }

    #[test]
    fn external_health() {
        judge(
            "external_health_answered",
            &[],
            &[
                case(
                    "health check answered",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "curl/8.5.0""#,
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "one of two answered 500",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "curl/8.5.0""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /health/ HTTP/1.1" 500 145 "-" "curl/8.5.0""#,
                    ],
                    Status::Warn,
                    &[],
                ),
                case(
                    "none answered well",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:59 +0000] "GET /health/ HTTP/1.1" 500 145 "-" "curl/8.5.0""#,
                    ],
                    Status::Fail,
                    &[],
                ),
                case(
                    "only probes",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#,
                    ],
                    Status::Unknown,
                    &[],
                ),
            ],
        );
    }
}
