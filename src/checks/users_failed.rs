//! Findings `users_failed_*`: the edge's 5xx and timeouts, grouped by what happened on the app's
//! side, each told end to end with lines from both sides (under `users_answered`).
//!
//! - `users_failed_worker_timeout`: the app's request was open until gunicorn's WORKER TIMEOUT
//!   killed its worker;
//! - `users_failed_worker_killed`: its worker was killed by a signal;
//! - `users_failed_app_error`: the app answered 5xx itself and the edge passed it on;
//! - `users_failed_edge_gave_up`: the edge stopped waiting while the app was still at it (it
//!   answered later, or was still working when its log ends);
//! - `users_failed_no_worker`: nothing accepted the edge's connection, or the edge had no ready
//!   upstream;
//! - `users_failed_shutdown`: the app's request was still open when gunicorn, told to stop, shut
//!   down (stopped, not crashed);
//! - `users_failed_unreached`: the app has no line for them (or answered them well).
//!
//! Users' 400s from Django's DisallowedHost are told by the `allowed_hosts` check and findings.

use std::collections::BTreeSet;

use super::words::{edge_label, fmt_secs, plural, reason_words, top_exceptions};
use super::{Check, Facts, Finding, Severity};
use crate::correlate::edge::EdgeFailure;
use crate::correlate::users::AppCause;
use crate::correlate::Evidence;

/// The findings, in report order, and the causes each tells.
const GROUPS: &[(&str, Severity, &[AppCause])] = &[
    (
        "users_failed_worker_timeout",
        Severity::Fail,
        &[AppCause::WorkerTimeout],
    ),
    (
        "users_failed_worker_killed",
        Severity::Fail,
        &[AppCause::WorkerKilled],
    ),
    (
        "users_failed_edge_gave_up",
        Severity::Fail,
        &[AppCause::AnsweredAfterEdgeGaveUp, AppCause::StillOpen],
    ),
    (
        "users_failed_app_error",
        Severity::Fail,
        &[AppCause::AppError],
    ),
    (
        "users_failed_no_worker",
        Severity::Fail,
        &[AppCause::NoWorkerAccepting, AppCause::NoReadyEndpoint],
    ),
    (
        "users_failed_shutdown",
        Severity::Warn,
        &[AppCause::Shutdown],
    ),
    (
        "users_failed_unreached",
        Severity::Warn,
        &[
            AppCause::NeverReachedApp,
            AppCause::AppAnswered,
            AppCause::NeverAnswered,
        ],
    ),
];

/// A failure users felt as a server's failure: a 5xx, or an error line with no status.
fn server_side(x: &EdgeFailure) -> bool {
    x.status.is_none_or(|s| s >= 500)
}

pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    let e = &f.analysis.edge;
    for (id, severity, causes) in GROUPS {
        let group: Vec<&EdgeFailure> = e
            .failures
            .iter()
            .filter(|x| server_side(x))
            .filter(|x| {
                x.explained
                    .as_ref()
                    .is_some_and(|c| causes.contains(&c.cause))
            })
            .collect();
        if group.is_empty() {
            continue;
        }
        let (detail, fix) = story(id, &group, f);
        findings.push(Finding {
            id,
            severity: *severity,
            title: title(&group, causes[0]),
            detail,
            fix,
            evidence: both_sides(&group),
        });
    }
}

/// `Users got 504 ×2, 502 ×1 on GET /slow/, GET /stuck/ from nginx: gunicorn killed ...`.
fn title(group: &[&EdgeFailure], cause: AppCause) -> String {
    let mut statuses = std::collections::BTreeMap::new();
    for x in group {
        *statuses.entry(x.status).or_insert(0u64) += 1;
    }
    let statuses: Vec<String> = statuses
        .iter()
        .rev()
        .map(|(s, n)| match s {
            Some(s) => format!("{s} ×{n}"),
            None => format!("an error ×{n}"),
        })
        .collect();
    let routes = routes(group);
    let edges: BTreeSet<&str> = group.iter().map(|x| edge_label(x.edge)).collect();
    format!(
        "Users got {} on {} from {}: {}",
        statuses.join(", "),
        routes,
        edges.into_iter().collect::<Vec<_>>().join(" and "),
        super::words::app_cause_words(cause)
    )
}

/// `GET /slow/, GET /stuck/` (at most three, then `and N more`).
fn routes(group: &[&EdgeFailure]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for x in group {
        let path = x.path.split('?').next().unwrap_or(&x.path);
        let r = format!("{} {path}", x.method);
        if !seen.contains(&r) {
            seen.push(r);
        }
    }
    let more = seen.len().saturating_sub(3);
    seen.truncate(3);
    let mut s = seen.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// The edge's lines and the app's of the first two failures.
fn both_sides(group: &[&EdgeFailure]) -> Vec<Evidence> {
    group
        .iter()
        .take(2)
        .flat_map(|x| {
            let app = x.explained.iter().flat_map(|c| c.evidence.iter());
            x.evidence.iter().chain(app).cloned()
        })
        .collect()
}

/// The longest and the shortest of some seconds, if any.
fn range(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.fold(None, |r, s| match r {
        None => Some((s, s)),
        Some((lo, hi)) => Some((lo.min(s), hi.max(s))),
    })
}

fn secs(s: f64) -> String {
    fmt_secs((s * 10.0).round() / 10.0)
}

/// The pids the app's side names: `worker 27237`, `workers 27237, 27238`.
fn workers(group: &[&EdgeFailure]) -> Option<String> {
    let pids: BTreeSet<u32> = group
        .iter()
        .filter_map(|x| x.explained.as_ref()?.pid)
        .collect();
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    match pids.len() {
        0 => None,
        1 => Some(format!("worker {}", pids[0])),
        _ => Some(format!("workers {}", pids.join(", "))),
    }
}

/// What the edge said, in words: `nginx: timed out waiting for the app (upstream timed out ...)`.
fn edge_said(group: &[&EdgeFailure]) -> String {
    let reasons: BTreeSet<&str> = group
        .iter()
        .filter_map(|x| x.reason)
        .map(reason_words)
        .collect();
    if reasons.is_empty() {
        "the edge logged no error of its own".into()
    } else {
        format!(
            "the edge said: {}",
            reasons.into_iter().collect::<Vec<_>>().join("; ")
        )
    }
}

/// The finding's detail and fix.
fn story(id: &str, group: &[&EdgeFailure], f: &Facts<'_>) -> (String, String) {
    let n = plural(group.len() as u64, "request", "requests");
    let said = edge_said(group);
    let timeout = secs(f.timeout.seconds);
    let waited = range(
        group
            .iter()
            .filter_map(|x| x.explained.as_ref()?.edge_waited),
    );
    let app_took = range(
        group
            .iter()
            .filter_map(|x| x.explained.as_ref()?.app_seconds),
    );
    let on = workers(group).map_or(String::new(), |w| format!(" on {w}"));
    let routes = routes(group);
    match id {
        "users_failed_worker_timeout" => (
            format!(
                "{n} ({said}). On the app's side each was open{on} until gunicorn's WORKER TIMEOUT ({timeout} s, {}) killed the worker{}.",
                f.timeout.source,
                match waited {
                    Some((lo, _)) if lo + 1.0 < f.timeout.seconds => format!(
                        "; the edge had already given up after {} s",
                        secs(lo)
                    ),
                    _ => String::new(),
                }
            ),
            format!(
                "Find why {routes} runs past gunicorn's {timeout} s timeout: a query or outside call without a timeout of its own is the usual cause (the worker_timeout finding lists the requests and their tracebacks)."
            ),
        ),
        "users_failed_worker_killed" => (
            format!(
                "{n} ({said}). On the app's side their worker{on} was killed by a signal before it answered (the evidence shows the kill line){}.",
                if group.iter().any(|x| x.explained.as_ref().is_some_and(|c| c.oom_suspected)) {
                    "; with no WORKER TIMEOUT before the kill, gunicorn's `Perhaps out of memory?` is worth checking"
                } else {
                    ""
                }
            ),
            "Find what killed the worker: the kill line names the signal; look at the container's restarts (`kubectl describe pod`: Last State) and the kernel log of that time before changing anything.".into(),
        ),
        "users_failed_edge_gave_up" => {
            let took = app_took.map_or(String::new(), |(_, hi)| {
                format!(" The app's answers took up to {} s.", secs(hi))
            });
            (
                format!(
                    "{n} ({said}{}). The app was still working on them{on}: it answered after the edge had given up, or was still at it when its log ends. No user saw those answers.{took}",
                    waited.map_or(String::new(), |(lo, _)| format!(", after {} s", secs(lo)))
                ),
                format!(
                    "Make {routes} answer faster than the edge waits, or let the edge wait longer than the app needs{}; keep gunicorn's --timeout ({timeout} s) the shorter of the two, so gunicorn, which logs it, is what cuts off a request that hangs.",
                    app_took.map_or(String::new(), |(_, hi)| format!(" (up to {} s here)", secs(hi)))
                ),
            )
        }
        "users_failed_app_error" => (
            format!(
                "{n} ({said}). The app answered 5xx itself{on} and the edge passed it on to the user{}.",
                match top_exceptions(f.analysis) {
                    t if t.is_empty() => String::new(),
                    t => format!("; the app's exceptions: {}", t.join(", ")),
                }
            ),
            "Fix the exception behind it: the server_errors finding has the traceback.".into(),
        ),
        "users_failed_no_worker" => no_worker(&n, &said, group, f),
        "users_failed_shutdown" => (
            format!(
                "{n} ({said}). On the app's side each was still open{on} when gunicorn, told to stop (Handling signal: term), shut down: the server was stopped, not crashed."
            ),
            "Stop the app only once the edge sends it nothing more (take it out of the upstream or readiness first), so that a stop lets open requests finish.".into(),
        ),
        _ => (
            format!("{n} ({said}). The app's log has no failed or slow request (open 1 s or more) that matches them: most likely they did not reach this app (the edge's own limit, a full queue, or an upstream that is not this app){}.", upstreams(group).map_or(String::new(), |u| format!("; the edge sent them to {u}"))),
            listening_fix(f),
        ),
    }
}

/// `http://127.0.0.1:8000/` — the distinct upstreams the edge names.
fn upstreams(group: &[&EdgeFailure]) -> Option<String> {
    let u: BTreeSet<&str> = group
        .iter()
        .filter_map(|x| x.upstream_addr.as_deref())
        .collect();
    (!u.is_empty()).then(|| u.into_iter().take(3).collect::<Vec<_>>().join(", "))
}

/// `host:port` of a URL or address: `http://127.0.0.1:8000/slow/` → `127.0.0.1:8000`.
fn host_port(addr: &str) -> &str {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn listening_fix(f: &Facts<'_>) -> String {
    let listening = &f.analysis.workers.listening;
    if listening.is_empty() {
        "Check that the edge's upstream is this app's address, and the edge's own timeouts and queue limits.".into()
    } else {
        format!(
            "Check that the edge's upstream is gunicorn's bind ({}), and the edge's own timeouts and queue limits.",
            listening.join(", ")
        )
    }
}

/// The detail and fix when nothing accepted the edge's connection.
fn no_worker(n: &str, said: &str, group: &[&EdgeFailure], f: &Facts<'_>) -> (String, String) {
    let w = &f.analysis.workers;
    let listening: Vec<&str> = w.listening.iter().map(|l| host_port(l)).collect();
    let elsewhere: BTreeSet<&str> = group
        .iter()
        .filter_map(|x| x.upstream_addr.as_deref())
        .map(host_port)
        .filter(|u| !listening.is_empty() && !listening.contains(u))
        .collect();
    let app = if w.boot_failed || w.boot_errors > 0 {
        " On the app's side gunicorn failed to boot (the evidence shows its error): nothing listened."
            .to_string()
    } else if !elsewhere.is_empty() {
        format!(
            " The edge connects to {}, but gunicorn listens at {}.",
            elsewhere.into_iter().collect::<Vec<_>>().join(", "),
            listening.join(", ")
        )
    } else {
        " The app's log has no request for them: gunicorn was down, restarting or not yet listening."
            .to_string()
    };
    let fix = if w.boot_failed || w.boot_errors > 0 {
        "Get gunicorn to boot first: the boot failure finding names the error; the edge's 502s stop when a worker listens."
            .to_string()
    } else if !listening.is_empty() {
        format!(
            "Point the edge's upstream at gunicorn's bind ({}), and make sure gunicorn is up before the edge sends traffic (a readiness probe on the app).",
            listening.join(", ")
        )
    } else {
        "Make sure gunicorn is up and listening where the edge sends (its upstream) before traffic arrives: a readiness probe on the app.".into()
    };
    (format!("{n} ({said}).{app}"), fix)
}
