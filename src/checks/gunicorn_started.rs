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
    let boot_problem = a.workers.boot_failed || a.workers.boot_errors > 0;
    let mut started = gunicorn_facts(
        a.workers.gunicorn_versions.first().map(String::as_str),
        a.workers.class.as_deref(),
        &a.workers.listening,
    );
    started.push(format!(
        "{} booted",
        plural(a.workers.booted, "worker", "workers")
    ));
    let alive = !a.workers.gunicorn_versions.is_empty()
        || !a.workers.listening.is_empty()
        || a.workers.booted > 0;
    let boot_exc = a.workers.boot_exceptions.first().cloned();
    checks.push(Check {
        id: "gunicorn_started",
        title: "Gunicorn starts",
        expected: "master listening, workers booted".into(),
        actual: if a.workers.boot_failed {
            format!(
                "workers failed to boot{}; gunicorn shut down",
                boot_exc
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )
        } else if a.workers.boot_errors > 0 {
            format!(
                "{}; {} failed to boot",
                started.join(", "),
                plural(a.workers.boot_errors, "worker", "workers")
            )
        } else if alive {
            started.join(", ")
        } else {
            "no gunicorn start-up lines (the logs may begin after start-up)".into()
        },
        status: if a.workers.boot_failed {
            Status::Fail
        } else if a.workers.boot_errors > 0 {
            Status::Warn
        } else if alive {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: if boot_problem {
            a.workers.boot_evidence.clone()
        } else {
            a.workers.start_evidence.clone()
        },
    });
    if boot_problem {
        let about_hosts = boot_exc
            .as_deref()
            .is_some_and(|e| e.contains("ALLOWED_HOSTS"));
        findings.push(Finding {
            id: "boot_failure",
            severity: if a.workers.boot_failed { Severity::Fail } else { Severity::Warn },
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
            evidence: a.workers.boot_evidence.clone(),
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
            "gunicorn_started",
            &["boot_failure"],
            &[
                case(
                    "started",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Listening at: http://0.0.0.0:8000 (27064)",
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Using worker: sync",
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "logs begin after start-up",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                    ],
                    Status::Unknown,
                    &[],
                ),
                case(
                    "one worker fails to boot, gunicorn goes on",
                    &[
                        "[2026-11-28 03:47:16 +0000] [30012] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:47:16 +0000] [30015] [INFO] Booting worker with pid: 30015",
                        "[2026-11-28 03:47:16 +0000] [30015] [ERROR] Exception in worker process",
                        "Traceback (most recent call last):",
                        "ValueError: ALLOWED_HOSTS must be explicitly set in production",
                        "[2026-11-28 03:47:16 +0000] [30015] [INFO] Worker exiting (pid: 30015)",
                    ],
                    Status::Warn,
                    &["boot_failure"],
                ),
                case(
                    "gunicorn gives up",
                    &[
                        "[2026-11-28 03:47:14 +0000] [29819] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:47:14 +0000] [29828] [INFO] Booting worker with pid: 29828",
                        "[2026-11-28 03:47:14 +0000] [29828] [ERROR] Exception in worker process",
                        "Traceback (most recent call last):",
                        "ValueError: ALLOWED_HOSTS must be explicitly set in production",
                        "[2026-11-28 03:47:14 +0000] [29828] [INFO] Worker exiting (pid: 29828)",
                        "[2026-11-28 03:47:14 +0000] [29819] [ERROR] Worker (pid:29828) exited with code 3",
                        "[2026-11-28 03:47:14 +0000] [29819] [ERROR] Shutting down: Master",
                        "[2026-11-28 03:47:14 +0000] [29819] [ERROR] Reason: Worker failed to boot.",
                    ],
                    Status::Fail,
                    &["boot_failure"],
                ),
            ],
        );
    }
}
