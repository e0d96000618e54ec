//! Finding `oom_suspected` (fail), about the workers_stable check: workers SIGKILLed with no
//! timeout before, which the kernel's OOM killer or a container memory limit usually sends.

use super::words::plural;
use super::{Check, Facts, Finding, Severity};

/// Pushes the finding when the facts call for it.
pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    if a.oom_suspected > 0 {
        findings.push(Finding {
            id: "oom_suspected",
            severity: Severity::Fail,
            title: format!("{} SIGKILLed with no timeout before: likely out of memory", plural(a.oom_suspected, "worker was", "workers were")),
            detail: "Nothing in gunicorn's own logs explains these kills; the kernel OOM killer (or a container memory limit) is the usual sender.".into(),
            fix: "Check the container's memory limit and usage (`kubectl describe pod` → Last State: OOMKilled, `dmesg`), lower --workers or memory per request, or recycle leaky workers with --max-requests.".into(),
            evidence: a.oom_evidence.clone(),
        });
    }
}
