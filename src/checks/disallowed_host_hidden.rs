//! Finding `disallowed_host_hidden` (warn), about the allowed_hosts check: 400s with no
//! DisallowedHost line and no host accepted, as Django's default LOGGING hides them with DEBUG off.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let total_rejections = f.total_rejections;
    let hidden_400s = f.hidden_400s;
    if total_rejections == 0 && hidden_400s > 0 && a.accepted_hosts.is_empty() {
        findings.push(Finding {
            id: "disallowed_host_hidden",
            severity: Severity::Warn,
            title: format!("{} answered 400 with no Django line saying why", plural(hidden_400s, "request was", "requests were")),
            detail: "With DEBUG=False, Django's default LOGGING sends DisallowedHost only to mail_admins: an ALLOWED_HOSTS rejection shows as a bare 400 access line.".into(),
            fix: "Add a console handler for the `django.security` and `django.request` loggers in LOGGING, redeploy, and run reqtrail again.".into(),
            evidence: Vec::new(),
        });
    }
}
