//! Ordered events of one stream → request records, orphans, worker lifecycles, host rejections.
//!
//! A request starts with the middleware's `INCOMING REQUEST` line (or gunicorn's DEBUG
//! `GET /path` line) on a worker pid and ends with `RESPONSE` on the same pid, oldest first by
//! method and path. The access line (no pid, completion time, query string, user agent) is
//! linked afterwards by method, path and time: it may arrive before the app's lines, because
//! stdout and stderr are copied separately. A request still open when its worker times out,
//! is killed or exits is orphaned by that event; one still open when its sync worker starts
//! another request was never answered.
//!
//! Records stay in memory only while they can still be linked (a few seconds of log time);
//! then they are folded into counters, and only orphans are kept (up to a cap).
//!
//! The work is done by parts with one job each, and [`Correlator::feed`] hands each line to
//! the part its event kind belongs to: `records.rs` (the records and their indexes),
//! `pairing.rs` (start and end lines), `join.rs` (the access-line join), `workers.rs`
//! (gunicorn's and its workers' life), `hosts.rs` (rejected and accepted hosts, request
//! classes), `errors.rs` (error lines and tracebacks), `tally.rs` (counters), `settle.rs`
//! (records folded into the analysis), `notices.rs` (live notices). What they learn is an
//! [`Analysis`] (`analysis.rs`).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHasher;

use crate::parse::{Event, Parsed, Ts};
use crate::settings::Settings;
use crate::time::Precision;

mod analysis;
pub mod edge;
mod errors;
mod evidence;
mod hosts;
mod join;
mod notices;
mod pairing;
mod records;
mod settle;
mod snapshot;
mod tally;
pub mod users;
mod workers;

pub use analysis::{
    settle_timeout, Analysis, Cause, Class, ClassStats, HostRejections, InFlight, Listed, Orphan,
    Pairing, PodSummary, StreamEnd, Timeout, MAX_HOSTS, MAX_ORPHANS, MAX_PODS, MAX_SAMPLES,
};
use errors::Errors;
use evidence::{keep, Part, RawLine};
pub use evidence::{Evidence, EVIDENCE_PER_KIND};
use hosts::Hosts;
pub use hosts::{host_ip, is_internal};
use join::AccessJoin;
use notices::Notices;
pub use notices::{AlertKind, Notice, PathAndHost};
pub use records::MAX_TRACKED;
use records::{lossy_cow, Book};
use tally::Tally;
use workers::Workers;

/// How long (µs of log time) a finished record waits for its access line.
const LINK_WINDOW: i64 = 5_000_000;

/// A request id's key, alike on the app's lines and the edge's.
fn rid_hash(id: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    id.hash(&mut h);
    h.finish()
}

/// The line being fed: where it is, what it says, and the keys it carries. Made on the stack
/// for each line and lent to the part that handles it.
#[derive(Clone, Copy)]
struct Line<'a> {
    file: &'a Arc<str>,
    no: u64,
    /// The whole physical line, for evidence.
    raw: &'a [u8],
    time: Option<Ts>,
    pid: Option<u32>,
    /// The thread id and the request id's hash, when the line carries them.
    thread: Option<u64>,
    rid: Option<u64>,
    precision: Precision,
}

impl Line<'_> {
    fn evidence(&self) -> Evidence {
        Evidence::new(self.file, self.no, self.raw)
    }
}

/// One stream's correlation state: the lines of one file and pod, in order.
pub struct Correlator {
    settings: Arc<Settings>,
    out: Analysis,
    book: Book,
    join: AccessJoin,
    workers: Workers,
    hosts: Hosts,
    errors: Errors,
    tally: Tally,
    notices: Notices,
    /// Another stream of the same input logs request ends (set when the input ends).
    ends_logged_elsewhere: bool,
    /// Keep the requests an edge failure can be about (once the input has shown an edge's line).
    keep_traces: bool,
    now: Option<Ts>,
    last_flush: Option<Ts>,
}

impl Correlator {
    /// A stream, judged by `settings`; each line fed names its own file, which is the one its
    /// evidence cites.
    pub fn new(settings: Arc<Settings>) -> Correlator {
        Correlator {
            hosts: Hosts::new(settings.clone()),
            join: AccessJoin::new(settings.clone()),
            settings,
            out: Analysis::default(),
            book: Book::default(),
            workers: Workers::default(),
            errors: Errors::default(),
            tally: Tally::default(),
            notices: Notices::default(),
            ends_logged_elsewhere: false,
            keep_traces: false,
            now: None,
            last_flush: None,
        }
    }

    /// Asks for notices (finished requests, alerts) as they happen; `pod` names the stream.
    pub fn enable_notices(&mut self, pod: Option<Arc<str>>) {
        self.notices.enable(pod);
    }

    /// Keeps, from now on, the requests an edge failure can be about (`users.rs` pairs them
    /// with the edge's failures). Off until an input is named an edge's or shows an edge's
    /// line: an app-only run pays nothing for it. (An edge found only by its lines, with a clock
    /// well ahead of the app's, can miss the app requests that settled before its first line.)
    pub fn keep_traces(&mut self) {
        self.keep_traces = true;
    }

    /// Hands the notices gathered since the last call to `emit`, in order.
    pub fn drain_notices(&mut self, emit: &mut dyn FnMut(Notice)) {
        self.notices.drain(emit);
    }

    fn timeout_secs(&self) -> f64 {
        settle_timeout(
            self.settings.timeout,
            self.out.workers.timeout_from_logs,
            &self.out.traffic.orphans,
        )
        .seconds
    }

    /// Alerts once for each request open longer than the timeout at `now` (log time).
    pub fn tick(&mut self, now: Ts) {
        if !self.notices.wanted() {
            return;
        }
        let timeout = self.timeout_secs();
        let limit = (timeout * 1e6) as i64;
        let mut late = Vec::new();
        for ids in self.book.open.values() {
            for id in ids {
                let r = &self.book.reqs[id];
                if !r.alerted && r.start.is_some_and(|s| now.0 - s.0 > limit) {
                    late.push(*id);
                }
            }
        }
        late.sort_unstable();
        for id in late {
            let r = self.book.reqs.get_mut(&id).expect("open ids are live");
            r.alerted = true;
            let open_for = (now.0 - r.start.map_or(now.0, |s| s.0)) as f64 / 1e6;
            let message = format!(
                "{} {} on worker {} has been open {open_for:.0} s (timeout {} s)",
                r.method,
                lossy_cow(r.path()),
                r.pid.map_or("?".to_string(), |p| p.to_string()),
                timeout
            );
            let e = r.start_line.evidence();
            let kind = notices::AlertKind::RequestOpenTooLong;
            self.notices.alert(kind, message, Some(now), &e);
        }
    }

    /// Counts one physical line that is only part of a record (a CRI partial).
    pub fn count_partial(&mut self) {
        self.out.input.lines += 1;
        self.out.input.recognized += 1;
    }

    /// Counts one line read as an edge's record (the edge log holds what it says).
    pub fn count_edge_line(&mut self) {
        self.out.input.lines += 1;
        self.out.input.recognized += 1;
        self.out.input.edge += 1;
    }

    /// Feeds one line: `raw` is the whole physical line (for evidence), `envelope_time` the
    /// time its docker / kubectl / CRI envelope gave (sub-second; else the line's own counts).
    pub fn feed(
        &mut self,
        file: &Arc<str>,
        line_no: u64,
        raw: &[u8],
        envelope_time: Option<Ts>,
        p: &Parsed<'_>,
    ) {
        let time = envelope_time.or(p.time);
        self.out.input.lines += 1;
        let line = Line {
            file,
            no: line_no,
            raw,
            time,
            pid: p.pid,
            thread: p.thread,
            rid: p.request_id.map(rid_hash),
            precision: if envelope_time.is_some() {
                Precision::SubSecond
            } else {
                Precision::Seconds
            },
        };
        match p.event {
            Event::Unrecognized => {
                self.out.input.unrecognized += 1;
                if self.out.input.unrecognized_samples.len() < MAX_SAMPLES {
                    self.out.input.unrecognized_samples.push(line.evidence());
                }
                return;
            }
            Event::Blank => {
                self.out.input.recognized += 1;
                self.out.input.blank += 1;
                return;
            }
            _ => self.out.input.recognized += 1,
        }
        if let Some(t) = time {
            self.advance_clock(t);
        }
        match &p.event {
            Event::RequestStart { .. }
            | Event::Incoming { .. }
            | Event::Response { .. }
            | Event::K8sInternal { .. } => self.request_line(&line, &p.event),
            Event::Access(a) => {
                let probe_agent = self.hosts.is_probe_agent(a.user_agent);
                let times = (time, self.now);
                self.join.line(&mut self.book, a, times, probe_agent);
            }
            Event::DisallowedHost {
                host,
                add,
                rfc_valid,
            } => {
                let rejection = (*host, *add, *rfc_valid);
                let (out, notices) = (&mut self.out, &mut self.notices);
                let host = self.hosts.rejected(&line, rejection, out, notices);
                self.book.mark_rejected(&line, host);
            }
            Event::ClientGone => {
                if !self.book.client_gone(&line) {
                    self.out.traffic.client_gone_unpaired += 1;
                }
            }
            Event::Message if self.workers.master_down(p.text) => {
                self.book
                    .orphan_all(&mut self.join, Cause::Shutdown, &line, time);
                self.errors.on_event(p, &line, &mut self.out);
            }
            Event::InvalidRequest { .. } => {
                self.errors.on_event(p, &line, &mut self.out);
                // gunicorn answered it 400 itself: a request no app line and no access line show.
                self.access_only(b"", 400, false);
            }
            Event::ErrorHandlingRequest { .. } | Event::Message | Event::DjangoRequest { .. } => {
                self.errors.on_event(p, &line, &mut self.out)
            }
            Event::ExceptionLine { exc_type, message } if !workers::halts(exc_type, message) => {
                self.errors.on_event(p, &line, &mut self.out)
            }
            event => {
                let (out, notices) = (&mut self.out, &mut self.notices);
                if let Some(orphaning) = self
                    .workers
                    .on_event(event, &line, out, notices, &self.book)
                {
                    self.book.orphan_pid(&mut self.join, orphaning, time);
                }
            }
        }
        self.errors.after_line(p, &mut self.out);
    }

    /// The stream's clock moves to `t` (a line's time): records too old to be linked now
    /// are settled, once a second of log time.
    fn advance_clock(&mut self, t: Ts) {
        // Most lines carry the time the clock already stands at (gunicorn logs whole
        // seconds): then the first and last times and the last flush stay as they are.
        if self.now == Some(t) {
            return;
        }
        if self.now.is_some_and(|n| t.0 < n.0 - LINK_WINDOW) {
            // The clock went back (logs concatenated out of order, a container restarted
            // with another clock): nothing of the later time will link to what waits now,
            // and waiting for the old "now" to pass would keep every new record forever.
            self.flush(true);
            self.now = Some(t);
            self.last_flush = Some(t);
        }
        self.now = Some(self.now.map_or(t, |n| n.max(t)));
        self.out.time.first = Some(self.out.time.first.map_or(t, |f| f.min(t)));
        self.out.time.last = self.out.time.last.max(self.now);
        if self.last_flush.is_none_or(|f| t.0 - f.0 > 1_000_000) {
            self.last_flush = Some(t);
            self.flush(false);
        }
    }

    /// A request's start or end line (or the middleware's K8s-bypass line before a start).
    fn request_line(&mut self, line: &Line<'_>, event: &Event<'_>) {
        let worker = (line.pid.unwrap_or(0), line.thread);
        match event {
            Event::RequestStart { method, path } => {
                self.book.has_debug_starts = true;
                let class = self.out.workers.class.as_deref();
                self.book.start(line, (method, path, None), false, class);
                self.enforce_cap();
            }
            Event::Incoming {
                method, path, host, ..
            } => {
                self.out.input.app_request_lines += 1;
                self.book.has_incoming = true;
                let class = self.out.workers.class.as_deref();
                self.book
                    .start(line, (method, path, Some(host)), true, class);
                self.enforce_cap();
            }
            Event::Response {
                method,
                path,
                status,
            } => {
                self.book.has_response = true;
                self.book.take_k8s_pending(worker);
                let (id, made) = self.book.pair_end(line, (method, path), &mut self.out);
                if made {
                    self.enforce_cap();
                }
                self.book.answer(&mut self.join, line, id, *status);
            }
            Event::K8sInternal { .. } => {
                self.book.k8s_pending.insert(worker);
            }
            _ => {}
        }
    }

    /// The latest time this stream has seen.
    pub fn last_time(&self) -> Option<Ts> {
        self.out.time.last
    }

    /// Whether any line of this stream logged a request's end (RESPONSE or access line).
    pub fn ends_logged(&self) -> bool {
        self.book.has_response || self.join.seen
    }

    /// What this stream has learnt so far.
    pub fn analysis(&self) -> &Analysis {
        &self.out
    }
}

/// Feeds `lines` to one stream and ends it: what the parts' tests look at.
#[cfg(test)]
fn run(lines: &[&str]) -> Analysis {
    let settings = Arc::new(Settings::default());
    let file: Arc<str> = Arc::from("t.log");
    let mut c = Correlator::new(settings);
    let mut p = crate::parse::LineParser::default();
    for (k, l) in lines.iter().enumerate() {
        let mut scratch = Vec::new();
        let parsed = p.parse(l.as_bytes(), &mut scratch);
        c.feed(&file, k as u64 + 1, l.as_bytes(), None, &parsed);
    }
    c.into_analysis()
}
