//! Finding `no_request_lines` (warn), with no check of its own: no request-logging line was
//! recognised, yet lines in a known layout talk about requests in a wording reqtrail does not read.

use super::words::closest_layout;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.input.app_request_lines == 0 && !a.input.unknown_request_messages.is_empty() {
        let samples = a
            .input
            .unknown_request_messages
            .iter()
            .map(|e| e.text.as_str());
        let (closest, hint) = closest_layout(samples);
        findings.push(Finding {
            id: "no_request_lines",
            severity: Severity::Warn,
            title: "No request-logging line was recognised, but some lines talk about requests".into(),
            detail: format!("Lines in a known layout carry messages reqtrail does not read; they look like {closest}."),
            fix: hint,
            evidence: a.input.unknown_request_messages.clone(),
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
            "log_lines_recognized",
            &["no_request_lines"],
            &[
                case(
                    "request lines read",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "requests in a wording of the team's own",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] handled request GET /login/ in 12 ms",
                    ],
                    Status::Pass,
                    &["no_request_lines"],
                ),
            ],
        );
    }
}
