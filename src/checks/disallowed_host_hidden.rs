//! Finding `disallowed_host_hidden` (warn), about the allowed_hosts check: 400s with no
//! DisallowedHost line and no host accepted, as Django's default LOGGING hides them with DEBUG off.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let total_rejections = f.total_rejections;
    let hidden_400s = f.hidden_400s;
    if total_rejections == 0 && hidden_400s > 0 && a.hosts.accepted.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        judge(
            "allowed_hosts",
            &["disallowed_host_hidden"],
            &[
                case(
                    "bare 400s and no host accepted",
                    &[r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET / HTTP/1.1" 400 143 "-" "Mozilla/5.0""#],
                    Status::Warn,
                    &["disallowed_host_hidden"],
                ),
                case(
                    "a 400 beside an accepted host",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:54 +0000] "GET / HTTP/1.1" 400 143 "-" "Mozilla/5.0""#,
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "the rejection is logged",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Fail,
                    &["public_host_rejected"],
                ),
            ],
        );
    }
}
