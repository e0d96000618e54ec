//! Finding `no_request_lines` (warn), with no check of its own: no request-logging line was
//! recognised, yet lines in a known layout talk about requests in a wording reqtrail does not read.

use super::words::closest_layout;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.app_request_lines == 0 && !a.unknown_request_messages.is_empty() {
        let texts: Vec<&str> = a
            .unknown_request_messages
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        let (closest, hint) = closest_layout(&texts);
        findings.push(Finding {
            id: "no_request_lines",
            severity: Severity::Warn,
            title: "No request-logging line was recognised, but some lines talk about requests".into(),
            detail: format!("Lines in a known layout carry messages reqtrail does not read; they look like {closest}."),
            fix: hint,
            evidence: a.unknown_request_messages.clone(),
        });
    }
}
