//! Finding `oom_suspected` (fail), about the workers_stable check: workers SIGKILLed with no
//! timeout before, which the kernel's OOM killer or a container memory limit usually sends.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.workers.oom_suspected > 0 {
        findings.push(Finding {
            id: "oom_suspected",
            severity: Severity::Fail,
            title: format!("{} SIGKILLed with no timeout before: likely out of memory", plural(a.workers.oom_suspected, "worker was", "workers were")),
            detail: "Nothing in gunicorn's own logs explains these kills; the kernel OOM killer (or a container memory limit) is the usual sender.".into(),
            fix: "Check the container's memory limit and usage (`kubectl describe pod` → Last State: OOMKilled, `dmesg`), lower --workers or memory per request, or recycle leaky workers with --max-requests.".into(),
            evidence: a.workers.oom_evidence.clone(),
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
            "workers_stable",
            &["oom_suspected"],
            &[
                case(
                    "SIGKILL out of the blue",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:47:01 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
                    ],
                    Status::Fail,
                    &["oom_suspected"],
                ),
                case(
                    "SIGKILL after a timeout",
                    &[
                        "[2026-11-28 03:47:01 +0000] [27064] [CRITICAL] WORKER TIMEOUT (pid:27067)",
                        "[2026-11-28 03:47:01 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
                    ],
                    Status::Fail,
                    &[],
                ),
                case(
                    "SIGKILL while stopping",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:47:02 +0000] [27064] [INFO] Handling signal: term",
                        "[2026-11-28 03:47:32 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
                    ],
                    Status::Warn,
                    &[],
                ),
            ],
        );
    }
}
