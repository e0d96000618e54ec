//! Check `workers_stable` (Workers stay up): no timeouts, kills or crashes. FAIL on a worker
//! timeout, a kill, a suspected out-of-memory or a failed boot; WARN on non-zero exits, some
//! workers failing to boot or kills while stopping; PASS when workers or requests were seen
//! without trouble; UNKNOWN with no worker line. Its findings come later in the report, each in its
//! own file: worker_timeout, sigkill_after_timeout, oom_suspected.

use super::words::{first_evidence, plural};
use super::{Check, Facts, Finding, Status};

/// Pushes the check.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, _findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let troubles = a.workers.timeouts + a.workers.killed;
    let mut stable = Vec::new();
    if a.workers.timeouts > 0 {
        stable.push(plural(
            a.workers.timeouts,
            "worker timeout",
            "worker timeouts",
        ));
    }
    if a.workers.killed > 0 {
        let mut k = plural(a.workers.killed, "worker killed", "workers killed");
        if a.workers.kills_after_timeout > 0 {
            k.push_str(&format!(
                " ({} after a timeout)",
                a.workers.kills_after_timeout
            ));
        }
        stable.push(k);
    }
    if a.workers.oom_suspected > 0 {
        stable.push(format!(
            "{} suspected out of memory",
            a.workers.oom_suspected
        ));
    }
    if a.workers.kills_during_shutdown > 0 {
        stable.push(format!(
            "{} killed while stopping (a request outlived graceful_timeout)",
            plural(a.workers.kills_during_shutdown, "worker", "workers")
        ));
    }
    if a.workers.exits > 0 {
        stable.push(plural(
            a.workers.exits,
            "non-zero worker exit",
            "non-zero worker exits",
        ));
    }
    checks.push(Check {
        id: "workers_stable",
        title: "Workers stay up",
        expected: "no timeouts, kills or crashes".into(),
        actual: if stable.is_empty() {
            if a.workers.booted > 0 || a.traffic.total > 0 {
                "no timeouts, kills or crashes".into()
            } else {
                "no worker lines in the logs".into()
            }
        } else {
            stable.join(", ")
        },
        status: if troubles > 0 || a.workers.oom_suspected > 0 || a.workers.boot_failed {
            Status::Fail
        } else if a.workers.exits > 0
            || a.workers.boot_errors > 0
            || a.workers.kills_during_shutdown > 0
        {
            Status::Warn
        } else if a.workers.booted > 0 || a.traffic.total > 0 {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: first_evidence(
            [
                &a.workers.timeout_evidence,
                &a.workers.kill_evidence,
                &a.workers.oom_evidence,
                &a.workers.boot_evidence,
            ],
            3,
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::Status;

    #[test]
    fn cases() {
        // The findings a stop or a reload must never bring: a kill, a crash, out of memory.
        judge(
            "workers_stable",
            &["oom_suspected", "requests_orphaned", "sigkill_after_timeout"],
            &[
                case(
                    "workers booted, nothing wrong",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0",
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "no worker line",
                    &["[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0"],
                    Status::Unknown,
                    &[],
                ),
                case(
                    "a worker timeout",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:47:01 +0000] [27064] [CRITICAL] WORKER TIMEOUT (pid:27067)",
                    ],
                    Status::Fail,
                    &[],
                ),
                case(
                    "gunicorn 23 reloads: its old workers are sent SIGTERM, no crash",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:47:00 +0000] [27064] [INFO] Handling signal: hup",
                        "[2026-11-28 03:47:00 +0000] [27064] [INFO] Hang up: Master",
                        "[2026-11-28 03:47:00 +0000] [27070] [INFO] Booting worker with pid: 27070",
                        "[2026-11-28 03:47:01 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGTERM!",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "a stop past --graceful-timeout: killed while stopping, no OOM",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27064] [INFO] Handling signal: term",
                        "[2026-11-28 03:47:24 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
                        "[2026-11-28 03:47:24 +0000] [27064] [INFO] Shutting down: Master",
                    ],
                    Status::Warn,
                    &["requests_cut_by_shutdown"],
                ),
                case(
                    "a worker exits non-zero",
                    &[
                        "[2026-11-28 03:46:52 +0000] [27067] [INFO] Booting worker with pid: 27067",
                        "[2026-11-28 03:47:01 +0000] [27064] [ERROR] Worker (pid:27067) exited with code 1",
                    ],
                    Status::Warn,
                    &[],
                ),
            ],
        );
    }
}
