//! What users saw, explained from the app's side: each failure the edge logged is paired with
//! the app's request it was (by request id where both log one, else by method, path and time
//! with the clocks' offset measured), and given the app's cause: a worker timeout, a killed
//! worker, the app's own 5xx, a rejected Host, an answer that came after the edge gave up, no
//! worker accepting, no ready endpoint, or no app line at all.
//!
//! The app keeps, while it runs, only the requests an edge failure can be about ([`AppTrace`]:
//! unanswered, answered 5xx or 400, or open a second or more) and a few hundred of the others'
//! routes and times to measure the clocks against; the pairing runs once, when the input has
//! ended ([`explain`]).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use super::edge::{EdgeFacts, EdgeFailure, RouteAt};
use super::records::{lossy, Req};
use super::{Analysis, Cause, Evidence};
use crate::parse::edge::Reason;
use crate::parse::Ts;

/// How many of the app's requests are kept for pairing (the first; all are counted).
pub const MAX_TRACES: usize = 5000;
/// An app request open this long (µs) is kept for pairing whatever its status.
pub(super) const SLOW_TRACE: i64 = 1_000_000;
/// How far apart (µs) two lines of one request may be logged, beyond the clocks' offset:
/// both sides write whole seconds.
const TOLERANCE: i64 = 2_000_000;
/// How far back from the edge's line (µs) an app request may have started, when the edge does
/// not log how long it waited.
const LOOKBACK: i64 = 600_000_000;

/// A route's key: the method and the path without its query string, hashed.
pub(super) fn route_key(method: &[u8], path: &[u8]) -> u64 {
    let path = path.split(|c| *c == b'?').next().unwrap_or(path);
    let mut h = FxHasher::default();
    method.hash(&mut h);
    path.hash(&mut h);
    h.finish()
}

/// One of the app's requests, kept for pairing with the edge's failures.
#[derive(Debug, Clone)]
pub struct AppTrace {
    pub method: String,
    pub path: String,
    pub start: Option<Ts>,
    pub end: Option<Ts>,
    /// What the app (or gunicorn) answered, if a line says.
    pub status: Option<u16>,
    pub pid: Option<u32>,
    /// Why it was never answered, if it was not.
    pub cause: Option<Cause>,
    /// Still open when the input ended, younger than the timeout.
    pub still_open: bool,
    pub host_rejected: bool,
    pub start_evidence: Evidence,
    pub cause_evidence: Option<Evidence>,
    pub(super) route: u64,
    pub(super) rid: Option<u64>,
}

/// The app's requests kept for pairing.
#[derive(Debug, Clone, Default)]
pub struct AppTraces {
    pub kept: Vec<AppTrace>,
    /// Requests that qualified beyond [`MAX_TRACES`].
    pub dropped: u64,
    pub(super) samples: Vec<RouteAt>,
}

impl AppTraces {
    /// A request of the app has settled (answered with `status`, or not for `cause`, or still
    /// open at the end): kept if an edge failure can be about it, sampled for the clocks.
    #[cold]
    pub(super) fn settled(
        &mut self,
        r: &Req,
        status: Option<u16>,
        cause: Option<Cause>,
        open: bool,
    ) {
        let at = r.end.or(r.start);
        let slow = matches!((r.start, r.end), (Some(s), Some(e)) if e.0 - s.0 >= SLOW_TRACE);
        let kept = open
            || slow
            || cause.is_some()
            || r.rejected_host.is_some()
            || status.is_some_and(|s| s >= 500 || s == 400);
        let sampled = at.is_some() && self.samples.len() < super::edge::SKEW_SAMPLES;
        if !(kept || sampled) {
            return;
        }
        let route = route_key(r.method.as_str().as_bytes(), r.path());
        if let (Some(at), true) = (at, sampled) {
            self.samples.push(RouteAt { route, at });
        }
        if !kept {
            return;
        }
        if self.kept.len() >= MAX_TRACES {
            self.dropped += 1;
            return;
        }
        self.kept.push(AppTrace {
            method: r.method.to_string(),
            path: lossy(r.path()),
            start: r.start,
            end: r.end,
            status,
            pid: r.pid,
            cause,
            still_open: open,
            host_rejected: r.rejected_host.is_some(),
            start_evidence: r.start_line.evidence(),
            cause_evidence: r.cause_evidence.clone(),
            route,
            rid: r.rid,
        });
    }

    pub fn merge(&mut self, o: AppTraces) {
        let AppTraces {
            kept,
            dropped,
            samples,
        } = o;
        let room = MAX_TRACES.saturating_sub(self.kept.len());
        self.dropped += dropped + kept.len().saturating_sub(room) as u64;
        self.kept.extend(kept.into_iter().take(room));
        let room = super::edge::SKEW_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(samples.into_iter().take(room));
    }
}

/// What happened on the app's side of an edge failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppCause {
    /// The request was open when gunicorn's WORKER TIMEOUT killed its worker.
    WorkerTimeout,
    /// Its worker was killed by a signal (an OOM kill among them).
    WorkerKilled,
    /// It was still open when gunicorn, told to stop, shut down: stopped, not crashed.
    Shutdown,
    /// Its worker exited, or it was never answered for another reason.
    NeverAnswered,
    /// The app was still at it when its log ended.
    StillOpen,
    /// The app answered a 5xx itself, which the edge passed on.
    AppError,
    /// Django rejected the Host (DisallowedHost): its 400 passed through.
    HostRejected,
    /// The app answered, after the edge had given up on it.
    AnsweredAfterEdgeGaveUp,
    /// The app answered well and in time; the edge failed the request on its own.
    AppAnswered,
    /// Nothing accepted the edge's connection: gunicorn down or failing to boot.
    NoWorkerAccepting,
    /// The edge had no ready upstream to send it to (no ready endpoint, no running dyno).
    NoReadyEndpoint,
    /// The app has no line for it (the edge gave up first, a full queue, a wrong upstream).
    NeverReachedApp,
    /// No app log was read: its side is unknown.
    AppSideMissing,
}

/// How an edge failure was paired with an app request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairedBy {
    RequestId,
    /// Method, path and time.
    Route,
}

/// An edge failure's app-side explanation.
#[derive(Debug, Clone)]
pub struct Explained {
    pub cause: AppCause,
    pub paired_by: Option<PairedBy>,
    pub pid: Option<u32>,
    pub app_status: Option<u16>,
    /// How long the app had the request (start to answer or to the event that ended it).
    pub app_seconds: Option<f64>,
    /// How long the edge waited for the app before it gave up (timeouts only).
    pub edge_waited: Option<f64>,
    /// The app's lines: the request's start, then what ended it (the kill, the WORKER
    /// TIMEOUT, Django's `Internal Server Error` line before the traceback).
    pub evidence: Vec<Evidence>,
    /// The worker was SIGKILLed with no timeout before it and gunicorn said `Perhaps out of
    /// memory?`.
    pub oom_suspected: bool,
}

/// How far the edge's clock reads ahead of the app's (negative: behind), and on how many
/// requests both logged it was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skew {
    pub seconds: f64,
    pub pairs: usize,
}

/// Pairs the edge's failures with the app's requests and says what happened to each on the
/// app's side; counts the causes. Runs once, on the whole input's analysis.
pub fn explain(a: &mut Analysis) {
    let mut edge = std::mem::take(&mut a.edge);
    join_error_lines(&mut edge);
    edge.skew = measure_skew(&edge.samples, &a.traffic.traces.samples);
    let skew = edge.skew.map_or(0, |s| (s.seconds * 1e6) as i64);
    let mut used = vec![false; a.traffic.traces.kept.len()];
    let mut causes = BTreeMap::new();
    for f in &mut edge.failures {
        let trace = pair(f, &a.traffic.traces.kept, &mut used, skew);
        let explained = match trace {
            Some((t, by)) => from_trace(f, t, by, skew, a),
            None => without_trace(f, a, edge.app_side),
        };
        *causes.entry(explained.cause).or_default() += 1;
        f.explained = Some(explained);
    }
    // By cause, the kept failures (the first MAX_EDGE_FAILURES) only.
    edge.causes = causes;
    a.edge = edge;
}

/// Gives each access failure the reason and words of the error-log line of the same request
/// (same method, path and client, logged within a couple of seconds, modulo whole quarter
/// hours: nginx's error log writes local time without an offset); error lines no access line
/// claims become failures of their own, with no status.
fn join_error_lines(edge: &mut EdgeFacts) {
    for e in std::mem::take(&mut edge.errors) {
        let close = |t: Option<Ts>| match (t, e.time) {
            (Some(a), Some(b)) => {
                let d = (a.0 - b.0).rem_euclid(900_000_000);
                d <= TOLERANCE || d >= 900_000_000 - TOLERANCE
            }
            _ => false,
        };
        let access = edge.failures.iter_mut().find(|f| {
            f.reason.is_none_or(|r| r == Reason::UpstreamTimeout)
                && f.evidence.len() == 1
                && f.route == e.route
                && f.client == e.client
                && f.status.is_some()
                && close(f.time)
        });
        match access {
            Some(f) => {
                f.reason = e.reason;
                f.detail = e.detail;
                f.upstream_addr = f.upstream_addr.take().or(e.upstream_addr);
                f.host = f.host.take().or(e.host);
                f.evidence.extend(e.evidence);
            }
            None => {
                edge.failures_total += 1;
                if edge.failures.len() < super::edge::MAX_EDGE_FAILURES {
                    edge.failures.push(e);
                }
            }
        }
    }
}

/// How far the edge's clock reads ahead of the app's: of the offsets between every edge record
/// and every app request of the same route within five minutes, the whole second most of them
/// fall on (a request's two lines are logged within the same second or so; the other pairs of
/// a busy route scatter). `None` under three offsets on it.
fn measure_skew(edge: &[RouteAt], app: &[RouteAt]) -> Option<Skew> {
    let mut seconds: BTreeMap<i64, usize> = BTreeMap::new();
    for e in edge {
        for a in app.iter().filter(|a| a.route == e.route) {
            let d = e.at.0 - a.at.0;
            if d.abs() <= 300_000_000 {
                *seconds.entry(d.div_euclid(1_000_000)).or_default() += 1;
            }
        }
    }
    let (best, pairs) = seconds
        .iter()
        .map(|(&s, &n)| (s, n))
        .max_by(|x, y| x.1.cmp(&y.1).then(y.0.abs().cmp(&x.0.abs())))?;
    (pairs >= 3).then_some(Skew {
        seconds: best as f64,
        pairs,
    })
}

/// The app request `f` was: the one with its request id, else the latest one of its route
/// that started before the edge's line (clocks aligned by `skew`), not long before it, and
/// had not ended before it.
fn pair<'t>(
    f: &EdgeFailure,
    traces: &'t [AppTrace],
    used: &mut [bool],
    skew: i64,
) -> Option<(&'t AppTrace, PairedBy)> {
    if let Some(rid) = f.rid {
        if let Some(k) = traces.iter().position(|t| t.rid == Some(rid)) {
            used[k] = true;
            return Some((&traces[k], PairedBy::RequestId));
        }
    }
    let at = f.time?.0 - skew;
    // Both sides cut their times to the second; a request the edge waited a second or more
    // for began in an earlier second.
    let ahead = if f.reason == Some(Reason::UpstreamTimeout) {
        -1
    } else {
        1_000_000
    };
    let lookback = f
        .request_seconds
        .map_or(LOOKBACK, |s| (s * 1e6) as i64 + TOLERANCE);
    let k = traces
        .iter()
        .enumerate()
        .filter(|(k, t)| !used[*k] && t.route == f.route && t.rid.is_none_or(|_| f.rid.is_none()))
        .filter_map(|(k, t)| {
            let start = t.start.or(t.end)?.0;
            // An answer logged well before the edge's line was the edge's to pass on: another
            // request.
            let ended_before = t.end.is_some_and(|e| e.0 < at - TOLERANCE);
            (start <= at + ahead && start >= at - lookback && !ended_before).then_some((k, start))
        })
        .max_by_key(|(_, start)| *start)?
        .0;
    used[k] = true;
    Some((&traces[k], PairedBy::Route))
}

/// The cause when the app's request was found.
fn from_trace(f: &EdgeFailure, t: &AppTrace, by: PairedBy, skew: i64, a: &Analysis) -> Explained {
    let seconds = |a: Option<Ts>, b: Option<Ts>| Some((b?.0 - a?.0) as f64 / 1e6);
    let edge_gave_up = matches!(f.reason, Some(Reason::UpstreamTimeout));
    let cause = match (t.cause, t.status) {
        (Some(Cause::WorkerTimeout), _) => AppCause::WorkerTimeout,
        (Some(Cause::WorkerKilled), _) => AppCause::WorkerKilled,
        (Some(Cause::Shutdown), _) => AppCause::Shutdown,
        (Some(_), _) => AppCause::NeverAnswered,
        _ if t.still_open => AppCause::StillOpen,
        _ if t.host_rejected => AppCause::HostRejected,
        _ if edge_gave_up => AppCause::AnsweredAfterEdgeGaveUp,
        (None, Some(s)) if s >= 500 => AppCause::AppError,
        _ => AppCause::AppAnswered,
    };
    let mut evidence = vec![t.start_evidence.clone()];
    evidence.extend(t.cause_evidence.clone());
    if cause == AppCause::AppError {
        let said = |e: &&Evidence| e.text.contains(&format!(": {}", t.path));
        evidence.extend(a.errors.server_error_evidence.iter().find(said).cloned());
    }
    let oom_suspected = cause == AppCause::WorkerKilled
        && t.cause_evidence
            .as_ref()
            .is_some_and(|e| e.text.contains("Perhaps out of memory?"));
    let edge_at = f.time.map(|e| Ts(e.0 - skew));
    Explained {
        cause,
        paired_by: Some(by),
        pid: t.pid,
        app_status: t.status,
        app_seconds: seconds(t.start, t.end),
        edge_waited: if edge_gave_up {
            f.request_seconds
                .or(seconds(t.start, edge_at))
                .filter(|w| *w >= 0.0)
        } else {
            None
        },
        evidence,
        oom_suspected,
    }
}

/// The cause when the app has no request for it: what the edge says, and what the app's log
/// says of gunicorn at the time.
fn without_trace(f: &EdgeFailure, a: &Analysis, app_side: bool) -> Explained {
    let booting = a.workers.boot_failed || a.workers.boot_errors > 0;
    let cause = match f.reason {
        Some(Reason::ConnectionRefused) => AppCause::NoWorkerAccepting,
        // gunicorn's socket took the connection while its workers failed to boot, and closed
        // it when the master gave up.
        Some(Reason::UpstreamReset | Reason::UpstreamClosed) if booting => {
            AppCause::NoWorkerAccepting
        }
        Some(Reason::NoUpstream | Reason::BootTimeout) => AppCause::NoReadyEndpoint,
        _ if !app_side => AppCause::AppSideMissing,
        _ => AppCause::NeverReachedApp,
    };
    // Nothing took the connection: what the app's log says of gunicorn's boot tells why.
    let evidence = match cause {
        AppCause::NoWorkerAccepting | AppCause::NoReadyEndpoint => a
            .workers
            .boot_evidence
            .first()
            .cloned()
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    Explained {
        cause,
        paired_by: None,
        pid: None,
        app_status: None,
        app_seconds: None,
        edge_waited: None,
        evidence,
        oom_suspected: false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::settings::Settings;

    /// The analysis of named inputs (one line a string) merged by time, as a run makes it.
    fn run(inputs: &[(&str, &[&str])]) -> Analysis {
        let texts: Vec<(String, String)> = inputs
            .iter()
            .map(|(name, lines)| (name.to_string(), lines.join("\n") + "\n"))
            .collect();
        let inputs: Vec<(&str, &[u8])> = texts
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_bytes()))
            .collect();
        crate::read::analyze_merged_bytes_in(&inputs, &Arc::new(Settings::default()), None)
    }

    fn causes(a: &Analysis) -> Vec<(Option<u16>, AppCause, Option<PairedBy>)> {
        a.edge
            .failures
            .iter()
            .map(|f| {
                let x = f.explained.as_ref().expect("every failure is explained");
                (f.status, x.cause, x.paired_by)
            })
            .collect()
    }

    const BOOT: &str = "[2026-11-28 03:46:50 +0000] [27064] [INFO] Starting gunicorn 23.0.0";

    #[test]
    fn a_request_id_pairs_across_routes_and_clocks() {
        // The router's clock is 2 h ahead: the request id still pairs them.
        let app: &[&str] = &[
            r#"{"asctime": "2026-11-28 03:47:22,438", "levelname": "INFO", "name": "djapp.requests", "process": 30051, "thread": 1, "message": "INCOMING REQUEST: GET /report/ from 127.0.0.1 Host: app.example.com", "request_id": "58f83fec-8d18-4d13-b6cd-20b9b83f3df2"}"#,
            r#"{"asctime": "2026-11-28 03:47:22,940", "levelname": "INFO", "name": "djapp.requests", "process": 30051, "thread": 1, "message": "RESPONSE: GET /report/ -> 500", "request_id": "58f83fec-8d18-4d13-b6cd-20b9b83f3df2"}"#,
        ];
        let router: &[&str] = &[
            r#"2026-11-28T05:47:23.000000+00:00 heroku[router]: at=info method=GET path="/report/?x=1" host=app.example.com request_id=58f83fec-8d18-4d13-b6cd-20b9b83f3df2 fwd="203.0.113.7" dyno=web.1 connect=1ms service=502ms status=500 bytes=0 protocol=https"#,
        ];
        let a = run(&[("app.log", app), ("router.log", router)]);
        assert_eq!(
            causes(&a),
            vec![(Some(500), AppCause::AppError, Some(PairedBy::RequestId))]
        );
    }

    #[test]
    fn a_request_cut_by_a_stop_is_the_stop_s_at_the_edge_too() {
        let app: &[&str] = &[
            BOOT,
            "[2026-11-28 03:47:00 +0000] [27067] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
            "[2026-11-28 03:47:01 +0000] [27064] [INFO] Handling signal: term",
            "[2026-11-28 03:47:31 +0000] [27064] [ERROR] Worker (pid:27067) was sent SIGKILL! Perhaps out of memory?",
            "[2026-11-28 03:47:31 +0000] [27064] [INFO] Shutting down: Master",
        ];
        let error: &[&str] = &[
            r#"2026/11/28 03:47:31 [error] 29#29: *7 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.7, server: localhost, request: "GET /export/ HTTP/1.1", upstream: "http://127.0.0.1:8000/export/", host: "app.example.com""#,
        ];
        let a = run(&[("app.log", app), ("nginx-error.log", error)]);
        let got = causes(&a);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, AppCause::Shutdown);
        let x = a.edge.failures[0].explained.as_ref().unwrap();
        assert!(!x.oom_suspected, "a stop is no out-of-memory kill");
    }

    #[test]
    fn nginx_error_line_joins_its_access_line_and_a_timeout_pairs_by_route() {
        let app: &[&str] = &[
            BOOT,
            "[2026-11-28 03:47:00 +0000] [27067] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
            "[2026-11-28 03:47:03 +0000] [27067] [INFO] RESPONSE: GET /slow/ -> 200",
        ];
        let error: &[&str] = &[
            r#"2026/11/28 03:47:01 [error] 29#29: *7 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 203.0.113.7, server: localhost, request: "GET /slow/ HTTP/1.1", upstream: "http://127.0.0.1:8000/slow/", host: "app.example.com""#,
        ];
        let access: &[&str] = &[
            r#"203.0.113.7 - - [28/Nov/2026:03:47:01 +0000] "GET /slow/ HTTP/1.1" 504 167 "-" "curl/8.5.0""#,
        ];
        let a = run(&[
            ("app.log", app),
            ("nginx-error.log", error),
            ("nginx-access.log", access),
        ]);
        assert_eq!(
            causes(&a),
            vec![(
                Some(504),
                AppCause::AnsweredAfterEdgeGaveUp,
                Some(PairedBy::Route)
            )]
        );
        let f = &a.edge.failures[0];
        assert_eq!(f.reason, Some(Reason::UpstreamTimeout));
        assert_eq!(f.evidence.len(), 2, "the access line and the error line");
        let x = f.explained.as_ref().unwrap();
        assert_eq!((x.edge_waited, x.app_seconds), (Some(1.0), Some(3.0)));
        assert_eq!(a.edge.failures_total, 1);
    }

    #[test]
    fn an_answer_logged_before_the_edge_failed_is_another_request() {
        // The app answered /slow/ at :03 after 2 s; nginx's 502 at :10 is not that request.
        let app: &[&str] = &[
            BOOT,
            "[2026-11-28 03:47:01 +0000] [27067] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
            "[2026-11-28 03:47:03 +0000] [27067] [INFO] RESPONSE: GET /slow/ -> 200",
        ];
        let access: &[&str] = &[
            r#"203.0.113.7 - - [28/Nov/2026:03:47:10 +0000] "GET /slow/ HTTP/1.1" 502 157 "-" "curl/8.5.0""#,
        ];
        let a = run(&[("app.log", app), ("nginx-access.log", access)]);
        assert_eq!(
            causes(&a),
            vec![(Some(502), AppCause::NeverReachedApp, None)]
        );
    }

    #[test]
    fn refused_connections_without_the_apps_log() {
        let error: &[&str] = &[
            r#"2026/11/28 03:47:02 [error] 29#29: *7 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.7, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8000/", host: "app.example.com""#,
            r#"2026/11/28 03:47:03 [error] 29#29: *8 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.7, server: localhost, request: "GET /x/ HTTP/1.1", upstream: "http://127.0.0.1:8000/x/", host: "app.example.com""#,
        ];
        let a = run(&[("nginx-error.log", error)]);
        assert!(!a.edge.app_side);
        assert_eq!(
            causes(&a),
            vec![
                (None, AppCause::NoWorkerAccepting, None),
                (None, AppCause::AppSideMissing, None)
            ]
        );
    }

    #[test]
    fn the_clock_offset_is_measured_on_requests_both_logged() {
        // nginx's clock is 40 s ahead of gunicorn's.
        let mut app = vec![BOOT.to_string()];
        let mut edge = Vec::new();
        for (k, path) in ["/a/", "/b/", "/c/", "/d/"].iter().enumerate() {
            let s = 10 + k * 2;
            app.push(format!("[2026-11-28 03:47:{s:02} +0000] [27067] [INFO] INCOMING REQUEST: GET {path} from 127.0.0.1 Host: app.example.com"));
            app.push(format!(
                "[2026-11-28 03:47:{s:02} +0000] [27067] [INFO] RESPONSE: GET {path} -> 200"
            ));
            edge.push(format!(r#"203.0.113.7 - - [28/Nov/2026:03:47:{:02} +0000] "GET {path} HTTP/1.1" 200 5 "-" "curl/8.5.0""#, s + 40));
        }
        let app: Vec<&str> = app.iter().map(String::as_str).collect();
        let edge: Vec<&str> = edge.iter().map(String::as_str).collect();
        let a = run(&[("app.log", &app), ("nginx-access.log", &edge)]);
        assert_eq!(
            a.edge.skew,
            Some(Skew {
                seconds: 40.0,
                pairs: 4
            })
        );
    }
}
