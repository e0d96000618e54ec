//! Check `gunicorn_started` (Gunicorn starts): master listening, workers booted. FAIL when the
//! workers failed to boot and gunicorn shut down, WARN when some worker failed to boot, PASS on any
//! start-up line, UNKNOWN when the logs begin after start-up.
//!
//! Finding `boot_failure` (fail, or warn when gunicorn kept running): the app raises while loading;
//! the fix names ALLOWED_HOSTS when the exception does.

use super::words::{gunicorn_facts, plural};
use super::{Check, Facts, Finding, Severity, Status};

/// Pushes the check, then its finding when the facts call for it.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let boot_problem = a.boot_failed || a.boot_errors > 0;
    let mut started = gunicorn_facts(
        a.gunicorn_versions.first().map(String::as_str),
        a.worker_class.as_deref(),
        &a.listening,
    );
    started.push(format!(
        "{} booted",
        plural(a.workers_booted, "worker", "workers")
    ));
    let alive = !a.gunicorn_versions.is_empty() || !a.listening.is_empty() || a.workers_booted > 0;
    let boot_exc = a.boot_exceptions.first().cloned();
    checks.push(Check {
        id: "gunicorn_started",
        title: "Gunicorn starts",
        expected: "master listening, workers booted".into(),
        actual: if a.boot_failed {
            format!(
                "workers failed to boot{}; gunicorn shut down",
                boot_exc
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )
        } else if a.boot_errors > 0 {
            format!(
                "{}; {} failed to boot",
                started.join(", "),
                plural(a.boot_errors, "worker", "workers")
            )
        } else if alive {
            started.join(", ")
        } else {
            "no gunicorn start-up lines (the logs may begin after start-up)".into()
        },
        status: if a.boot_failed {
            Status::Fail
        } else if a.boot_errors > 0 {
            Status::Warn
        } else if alive {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: if boot_problem {
            a.boot_evidence.clone()
        } else {
            a.start_evidence.clone()
        },
    });
    if boot_problem {
        let about_hosts = boot_exc
            .as_deref()
            .is_some_and(|e| e.contains("ALLOWED_HOSTS"));
        findings.push(Finding {
            id: "boot_failure",
            severity: if a.boot_failed { Severity::Fail } else { Severity::Warn },
            title: format!(
                "Workers fail to boot: the app raises while loading{}",
                boot_exc.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            detail: "gunicorn starts a worker, the worker imports the Django app, the import raises, and gunicorn gives up (`Reason: Worker failed to boot.`). No request can be served.".into(),
            fix: if about_hosts {
                "Set ALLOWED_HOSTS in the app's environment to the public host name(s) before it starts, e.g. `ALLOWED_HOSTS=app.example.com` (comma-separated), then redeploy.".into()
            } else {
                "Import the app once by hand in the same image and environment (`python -c \"import yourproject.wsgi\"`) to see the full error, fix it, redeploy.".into()
            },
            evidence: a.boot_evidence.clone(),
        });
    }
}
