//! Finding `no_external_traffic` (warn), about the public_routes_answered check: requests came in,
//! but only probes and health checks: users' requests stop before gunicorn.

use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let external = &f.external;
    if external.total == 0 && !a.boot_failed && a.requests > 0 {
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
