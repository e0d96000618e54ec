//! The "At the edge: what users saw" section, in words, for the table, Markdown and HTML
//! reports alike: one place for the text the three renderings share, so they tell the same story.
//!
//! Built from the JSON's `edge` object ([`EdgeReport`]) only. Every string here is raw: it may
//! hold log-borne text (a path, a Host header, nginx's error text, a source's name), and each
//! rendering escapes every string it writes exactly as its other sections do.

use std::collections::BTreeMap;

use super::wire::edge::{self as wire_edge, EdgeReport, Failure};
use super::wire::{Evidence, Input};
use crate::checks::plural;

/// Most failure groups listed; the rest are counted in [`EdgeSection::more`].
pub const MAX_GROUPS: usize = 10;

/// The section's text.
pub struct EdgeSection<'a> {
    /// What users got, all edges together: `nginx: 14 user requests, 10 answered below 500, ...`.
    pub summary: String,
    /// With more than one edge: how many of its records each wrote.
    pub per_edge: Option<String>,
    /// The clocks' offset, or `app's log: not read`.
    pub clock: String,
    /// Each source and why it was read as the edge's or the app's.
    pub sources: Vec<String>,
    /// The heading of the failures (`None` without any).
    pub failures: Option<String>,
    pub groups: Vec<FailureGroup<'a>>,
    /// `…and N more` when groups or failures were left out.
    pub more: Option<String>,
}

/// Failures of one status, route and app-side cause.
pub struct FailureGroup<'a> {
    pub count: usize,
    /// What users got: `504`, or `no status` for an error-log line alone.
    pub got: String,
    /// `GET /slow/`
    pub request: String,
    /// The edge, as people call it, and the Host the user asked for, if logged:
    /// `nginx, host app.example.com`.
    pub at: String,
    /// What the edge said: its reason in words and its own words.
    pub edge_said: Option<String>,
    /// What happened on the app's side, in words.
    pub app_side: String,
    /// One line from each side, tagged: the edge's (`edge  `), then the app's (`app   `).
    pub lines: Vec<(&'static str, &'a Evidence)>,
}

impl FailureGroup<'_> {
    /// `504 ×2  GET /slow/ at nginx, host app.example.com`
    pub fn heading(&self) -> String {
        format!(
            "{} ×{}  {} at {}",
            self.got, self.count, self.request, self.at
        )
    }
}

/// The section, when an edge's log was read.
pub fn section<'a>(e: &'a EdgeReport, input: &Input) -> Option<EdgeSection<'a>> {
    if !e.present {
        return None;
    }
    let (groups, left_out) = groups(&e.failures);
    let mut more = Vec::new();
    if let Some((groups, failures)) = left_out {
        more.push(format!(
            "…and {groups} more {} ({}; see --format json)",
            if groups == 1 { "group" } else { "groups" },
            plural(failures as u64, "failure", "failures")
        ));
    }
    if e.failures_total > e.failures.len() as u64 {
        more.push(format!(
            "only the first {} of {} failures are listed",
            e.failures.len(),
            e.failures_total
        ));
    }
    Some(EdgeSection {
        summary: summary(e),
        per_edge: (e.edges.len() > 1).then(|| {
            let lines: Vec<String> = e
                .edges
                .iter()
                .map(|(k, n)| format!("{} {n}", edge_label(k)))
                .collect();
            format!("lines read per edge: {}", lines.join(", "))
        }),
        clock: clock(e),
        sources: e
            .sources
            .iter()
            .map(|s| {
                let mut line = format!("{}: {}", source_name(&s.name, input), s.role);
                if let Some(edge) = s.edge {
                    line.push_str(&format!(" ({})", edge_label(edge)));
                }
                line.push_str(", ");
                line.push_str(why_words(s.why));
                if s.role == "app" && s.edge_lines > 0 {
                    line.push_str(&format!(
                        " ({} only an edge writes read as the edge's)",
                        plural(s.edge_lines, "line", "lines")
                    ));
                }
                if s.app_access_lines > 0 {
                    line.push_str(&format!(
                        " ({} read as the app's)",
                        plural(s.app_access_lines, "access line", "access lines")
                    ));
                }
                if s.unclear {
                    line.push_str("; its input has no other line: if they are a proxy's, say so with --edge");
                }
                line
            })
            .collect(),
        failures: (e.failures_total > 0).then(|| {
            format!(
                "{} users felt (5xx, edge-side timeouts, 400s passed through), by what they got and what happened in the app:",
                plural(e.failures_total, "failure", "failures")
            )
        }),
        groups,
        more: (!more.is_empty()).then(|| more.join("; ")),
    })
}

/// `nginx: 14 user requests, 10 answered below 500, 4 failed (504 ×2, 502 ×2); 3 error-log
/// lines about the upstream`
fn summary(e: &EdgeReport) -> String {
    let names: Vec<&str> = e.edges.keys().map(|k| edge_label(k)).collect();
    let names = match names.as_slice() {
        [] => "the edge".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let failed: Vec<String> = e
        .status
        .iter()
        .filter(|(s, _)| s.parse::<u16>().is_ok_and(|s| s >= 500))
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    let mut s = format!(
        "{names}: {}, {} answered below 500, {} failed",
        plural(e.requests, "user request", "user requests"),
        e.answered,
        e.failed
    );
    if !failed.is_empty() {
        s.push_str(&format!(" ({})", failed.join(", ")));
    }
    if e.upstream_errors > 0 {
        s.push_str(&format!(
            "; {} about the upstream",
            plural(e.upstream_errors, "error-log line", "error-log lines")
        ));
    }
    s
}

/// `edge clock +0 s vs the app's, 5 requests on both sides`
fn clock(e: &EdgeReport) -> String {
    if !e.app_side {
        return "app's log: not read (what happened in the app is unknown)".into();
    }
    match &e.clock_skew {
        Some(k) => format!(
            "edge clock {} s vs the app's, {} on both sides",
            signed(k.seconds),
            plural(k.pairs as u64, "request", "requests")
        ),
        None => {
            "edge clock vs the app's: not measured (under 3 requests found on both sides)".into()
        }
    }
}

/// `+0`, `-3600`, `+2.5`
fn signed(v: f64) -> String {
    let v = if v == 0.0 { 0.0 } else { v };
    if v.fract() == 0.0 {
        format!("{v:+.0}")
    } else {
        format!("{v:+.1}")
    }
}

/// `2.0 s`, `30 s`
fn secs(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0} s")
    } else {
        format!("{v:.1} s")
    }
}

/// A source's name as the reader knows it: a file as given, a compose service, a kubectl
/// pod/container.
fn source_name(name: &str, input: &Input) -> String {
    if name == "-" {
        "standard input".into()
    } else if input.files.iter().any(|f| f == name) {
        name.into()
    } else if name.contains('/') {
        format!("{name} (kubectl pod/container)")
    } else {
        format!("{name} (compose service)")
    }
}

fn why_words(why: &str) -> &str {
    match why {
        "declared" => "declared an edge (--edge or edge = [...])",
        "named" => "its name says so",
        "lines" => "its lines are ones only an edge writes",
        "default" => "nothing marked it an edge",
        other => other,
    }
}

/// An edge by the name its users know it by, from the JSON's `edge` value.
pub fn edge_label(edge: &str) -> &str {
    wire_edge::edge_of(edge).map_or(edge, |e| crate::checks::edge_label(e))
}

/// The edge's typed reason (the JSON's `reason` values), in words.
fn reason_words(reason: &str) -> &str {
    wire_edge::reason_of(reason).map_or(reason, |r| crate::checks::reason_words(r))
}

/// What the edge said: `timed out waiting for the app; nginx: upstream timed out (110: ...)`.
fn edge_said(f: &Failure) -> Option<String> {
    let detail = f.detail.as_deref().filter(|d| !d.is_empty());
    let edge = edge_label(f.edge);
    match (f.reason.map(reason_words), detail) {
        (Some(r), Some(d)) => Some(format!("{r}; {edge}: {d}")),
        (Some(r), None) => Some(r.to_string()),
        (None, Some(d)) => Some(format!("{edge}: {d}")),
        (None, None) => None,
    }
}

/// `worker 27237`, `workers 27237, 27238`, or `the worker`.
fn workers(pids: &[u32]) -> String {
    let list: Vec<String> = pids.iter().take(3).map(u32::to_string).collect();
    let more = if pids.len() > 3 { ", …" } else { "" };
    match pids.len() {
        0 => "the worker".into(),
        1 => format!("worker {}", list[0]),
        _ => format!("workers {}{more}", list.join(", ")),
    }
}

/// What happened on the app's side (the JSON's `cause` values), in words, told from the
/// group's first failure and the pids of all of them.
fn app_side(f: &Failure, pids: &[u32]) -> String {
    // Whole-second timestamps make a shorter time a guess: it is left out.
    let took = |word: &str| match f.app_seconds {
        Some(s) if s >= 1.0 => format!(" {word} {}", secs(s)),
        _ => String::new(),
    };
    let status = f.app_status.map_or(String::new(), |s| format!(" {s}"));
    let on = if pids.is_empty() {
        String::new()
    } else {
        format!(" ({})", workers(pids))
    };
    match f.cause {
        Some("worker_timeout") => format!(
            "gunicorn killed {} (WORKER TIMEOUT){}",
            workers(pids),
            took("after")
        ),
        Some("worker_killed") => format!(
            "{} was killed by a signal before it answered{}{}",
            workers(pids),
            took("after"),
            if f.oom_suspected {
                " (out of memory suspected: no timeout before it)"
            } else {
                ""
            }
        ),
        Some("never_answered") => format!("the app never answered it{on}: its worker exited"),
        Some("still_open") => {
            format!("the app was still working on it{on} when its log ends")
        }
        Some("app_error") => format!("the app answered{status} itself{on}{}", took("after")),
        Some("host_rejected") => {
            "Django rejected the Host header (DisallowedHost): its 400 passed through".into()
        }
        Some("answered_after_edge_gave_up") => format!(
            "the app answered{status}{}; the edge had given up{}",
            took("after"),
            f.edge_waited_seconds
                .map_or(" before".to_string(), |s| format!(" after {}", secs(s)))
        ),
        Some("app_answered") => format!(
            "the app answered{status}{} in time; the edge failed it on its own",
            took("in")
        ),
        Some("no_worker_accepting") => {
            "nothing accepted the connection: gunicorn was down or failing to boot".into()
        }
        Some("no_ready_endpoint") => {
            "no ready endpoint behind the edge: readiness failing, or every instance down".into()
        }
        Some("never_reached_app") => {
            "the app's log has no line for it: it never reached the app".into()
        }
        Some("app_side_missing") => "unknown: the app's log was not read".into(),
        Some(other) => other.into(),
        None => "not explained".into(),
    }
}

/// The failures grouped by what users got, route and app-side cause, most frequent first
/// (first seen first among equals); the first [`MAX_GROUPS`], and how many groups and failures
/// were left out, if any.
fn groups(failures: &[Failure]) -> (Vec<FailureGroup<'_>>, Option<(usize, usize)>) {
    type Key<'f> = (Option<u16>, &'f str, &'f str, Option<&'static str>);
    let mut by_key: BTreeMap<Key<'_>, usize> = BTreeMap::new();
    let mut members: Vec<Vec<&Failure>> = Vec::new();
    for f in failures {
        let path = f.path.split('?').next().unwrap_or(&f.path);
        let key = (f.status, f.method.as_str(), path, f.cause);
        let k = *by_key.entry(key).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[k].push(f);
    }
    // Stable: equal counts keep the order they were first seen in.
    members.sort_by_key(|m| std::cmp::Reverse(m.len()));
    let left_out = (members.len() > MAX_GROUPS).then(|| {
        let rest = &members[MAX_GROUPS..];
        (rest.len(), rest.iter().map(Vec::len).sum())
    });
    let groups = members
        .into_iter()
        .take(MAX_GROUPS)
        .map(|m| {
            let f = m[0];
            let mut pids: Vec<u32> = m.iter().filter_map(|x| x.pid).collect();
            pids.sort_unstable();
            pids.dedup();
            let path = f.path.split('?').next().unwrap_or(&f.path);
            let mut at = edge_label(f.edge).to_string();
            if let Some(h) = m.iter().find_map(|x| x.host.as_deref()) {
                at.push_str(&format!(", host {h}"));
            }
            FailureGroup {
                count: m.len(),
                got: f.status.map_or("no status".into(), |s| s.to_string()),
                request: format!("{} {path}", f.method),
                at,
                edge_said: edge_said(f),
                app_side: app_side(f, &pids),
                lines: f
                    .evidence
                    .first()
                    .map(|e| ("edge  ", e))
                    .into_iter()
                    .chain(f.app_evidence.last().map(|e| ("app   ", e)))
                    .collect(),
            }
        })
        .collect();
    (groups, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_offsets_read_as_people_write_them() {
        assert_eq!(signed(0.0), "+0");
        assert_eq!(signed(-0.0), "+0");
        assert_eq!(signed(-3600.0), "-3600");
        assert_eq!(signed(2.5), "+2.5");
        assert_eq!(secs(2.0), "2.0 s");
        assert_eq!(secs(30.0), "30 s");
        assert_eq!(workers(&[]), "the worker");
        assert_eq!(workers(&[1, 2, 3, 4]), "workers 1, 2, 3, …");
    }
}
