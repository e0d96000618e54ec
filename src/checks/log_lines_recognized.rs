//! Check `log_lines_recognized` (Log lines recognised): is the input gunicorn / Django output at
//! all? FAIL when no line is recognised, WARN when fewer than half are, PASS otherwise; counted on
//! the lines inside --since / --until.
//!
//! Finding `nothing_recognized` (fail when none, warn when under half): says which known layout the
//! unrecognised lines come closest to and the option that would read them.

use super::words::closest_layout;
use super::{Check, Facts, Finding, Severity, Status};

/// Pushes the check, then its finding when the facts call for it.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    // Of the lines in the --since / --until window (all, without one).
    let content = (a.input.lines - a.input.blank).saturating_sub(a.input.filtered);
    let recognized = a.input.recognized - a.input.blank;
    // Every line was left out by the window: nothing in it to judge, not a log unrecognised.
    let outside = a.input.lines > 0 && a.input.filtered > 0 && content == 0;
    checks.push(Check {
        id: "log_lines_recognized",
        title: "Log lines recognised",
        expected: "gunicorn / Django lines in the input".into(),
        actual: if a.input.lines == 0 {
            "the input is empty".into()
        } else if outside {
            format!("all {} lines are outside --since / --until", a.input.lines)
        } else if a.input.filtered > 0 {
            format!(
                "{recognized} of {content} non-blank lines recognised ({} outside --since / --until)",
                a.input.filtered
            )
        } else {
            format!("{recognized} of {content} non-blank lines recognised")
        },
        status: if recognized == 0 {
            Status::Fail
        } else if recognized * 2 < content {
            Status::Warn
        } else {
            Status::Pass
        },
        evidence: a.input.unrecognized_samples.clone(),
    });
    if recognized == 0 || recognized * 2 < content {
        let samples = a.input.unrecognized_samples.iter().map(|e| e.text.as_str());
        let (closest, hint) = closest_layout(samples);
        findings.push(Finding {
            id: "nothing_recognized",
            severity: if recognized == 0 { Severity::Fail } else { Severity::Warn },
            title: if a.input.lines == 0 {
                "The input is empty: there is nothing to diagnose".into()
            } else if outside {
                "No line falls within --since / --until: there is nothing to diagnose".into()
            } else if recognized == 0 {
                format!("None of the {} lines looks like gunicorn or Django output", a.input.lines)
            } else {
                format!("Only {recognized} of {content} lines were recognised: the checks see a part of the logs")
            },
            detail: if a.input.lines == 0 {
                "reqtrail reads gunicorn's error and access logs and Django's request logging; the input held no line at all.".into()
            } else if outside {
                format!("The window left out all {} lines of the input.", a.input.lines)
            } else {
                format!("The unrecognised lines look closest to {closest}.")
            },
            fix: if a.input.lines == 0 {
                "Pass the container's whole output (`docker logs web 2>&1 | reqtrail`, or `kubectl logs POD --timestamps | reqtrail`), with gunicorn's `--access-logfile -` on.".into()
            } else if outside {
                "Widen the window (times are UTC unless they carry an offset; an age like 2h counts back from now), or pass logs that cover it.".into()
            } else {
                hint
            },
            evidence: a.input.unrecognized_samples.clone(),
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
            &["nothing_recognized"],
            &[
                case(
                    "gunicorn start-up",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "not a log of gunicorn",
                    &["hello world", "nothing to see here"],
                    Status::Fail,
                    &["nothing_recognized"],
                ),
                case(
                    "mostly unrecognised",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
                        "2026-11-28T03:46:53 web ready",
                        "2026-11-28T03:46:54 web GET /login/",
                        "2026-11-28T03:46:55 web done",
                    ],
                    Status::Warn,
                    &["nothing_recognized"],
                ),
            ],
        );
    }
}
