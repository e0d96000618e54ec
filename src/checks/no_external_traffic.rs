//! Finding `no_external_traffic` (warn), about the public_routes_answered check: requests came in,
//! but only probes and health checks: users' requests stop before gunicorn.

use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let external = &f.external;
    if external.total == 0 && !a.workers.boot_failed && a.traffic.total > 0 {
        findings.push(Finding {
            id: "no_external_traffic",
            severity: Severity::Warn,
            title: "No request from outside reached the app: only probes and health checks did".into(),
            detail: "If users see 502/503 while the app looks healthy, their requests stop before gunicorn: at the load balancer, ingress, service port or DNS.".into(),
            fix: "Send one request through the public URL and look for its INCOMING REQUEST line here; if it never appears, check the ingress/service routing and the port gunicorn listens on.".into(),
            evidence: Vec::new(),
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
            "public_routes_answered",
            &["no_external_traffic"],
            &[
                case(
                    "users' requests arrive",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /login/ HTTP/1.1" 200 149 "-" "Mozilla/5.0""#,
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "only probes and health checks",
                    &[
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#,
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:58 +0000] "GET /health/ HTTP/1.1" 200 61 "-" "curl/8.5.0""#,
                    ],
                    Status::Warn,
                    &["no_external_traffic"],
                ),
                case(
                    "no request at all",
                    &["[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0"],
                    Status::Warn,
                    &[],
                ),
            ],
        );
    }
}
