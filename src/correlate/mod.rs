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

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::Serialize;

use crate::parse::{Access, Event, Parsed, Ts};
use crate::stats::Slow;

mod analysis;
mod evidence;
mod settings;

pub use analysis::{
    settle_timeout, Analysis, Cause, Class, ClassStats, HostRejections, InFlight, Listed, Orphan,
    Pairing, PodSummary, StreamEnd, MAX_HOSTS, MAX_ORPHANS, MAX_PODS, MAX_SAMPLES,
};
use evidence::{keep, Part, RawLine};
pub use evidence::{Evidence, EVIDENCE_PER_KIND};
pub use settings::{Settings, DEFAULT_HEALTH_PATHS};

/// How many request records one stream keeps at most (open, or waiting for their access line).
pub const MAX_TRACKED: usize = 20_000;
/// How far apart (µs) an access line's time and its request's end may be.
const LINK_SLACK: i64 = 2_000_000;
/// How long (µs of log time) a finished record waits for its access line.
const LINK_WINDOW: i64 = 5_000_000;

/// Something to tell at once while following a live stream (`--follow`, `--format ndjson`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// A request reached its end (answered or orphaned), or the input ended with it open.
    Request {
        time: Option<String>,
        pod: Option<Arc<str>>,
        method: String,
        path: String,
        host: Option<String>,
        pid: Option<u32>,
        class: Class,
        /// `answered`, `orphaned` or `in_flight`.
        outcome: &'static str,
        cause: Option<Cause>,
        status: Option<u16>,
        latency_ms: Option<f64>,
        file: Arc<str>,
        line: u64,
    },
    /// Something went wrong just now.
    Alert {
        time: Option<String>,
        pod: Option<Arc<str>>,
        alert: AlertKind,
        message: String,
        file: Arc<str>,
        line: u64,
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A request has been open longer than the timeout.
    RequestOpenTooLong,
    WorkerTimeout,
    WorkerKilled,
    BootFailure,
    /// The first DisallowedHost for a host not seen before.
    NewDisallowedHost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Open,
    Answered,
    /// Its sync worker started another request; final unless an access line shows an answer.
    Superseded,
    Orphaned(Cause),
}

#[derive(Debug)]
struct Req {
    method: Method,
    path: Part,
    host: Option<Part>,
    pid: Option<u32>,
    start: Option<Ts>,
    end: Option<Ts>,
    /// Started by the middleware's INCOMING line (else gunicorn's DEBUG line or a bare RESPONSE).
    incoming: bool,
    k8s_bypass: bool,
    app_status: Option<u16>,
    /// The access line's status, and whether its user agent is a probe's.
    access: Option<(u16, bool)>,
    outcome: Outcome,
    rejected_host: Option<String>,
    start_line: RawLine,
    cause_evidence: Option<Evidence>,
    key: u64,
    thread: Option<u64>,
    /// An open-too-long alert went out for it.
    alerted: bool,
    /// Hash of the request id, when the start line carried one.
    rid: Option<u64>,
    /// Both ends' times have sub-second precision.
    fine_start: bool,
    fine_end: bool,
}

impl Req {
    /// As logged (bytes: compared as they are, made text only for the report).
    fn path(&self) -> &[u8] {
        self.start_line.get(&self.path)
    }

    fn host(&self) -> Option<&[u8]> {
        self.host.as_ref().map(|h| self.start_line.get(h))
    }
}

/// The report's view of a settled record, open until `end`.
fn listed(r: Req, class: Class, end: Option<Ts>) -> Listed {
    Listed {
        open_seconds: match (r.start, end) {
            (Some(s), Some(e)) => Some((e.0 - s.0) as f64 / 1e6),
            _ => None,
        },
        started: r.start.map(Ts::to_rfc3339),
        file: r.start_line.file.clone(),
        line: r.start_line.line,
        path: lossy(r.path()),
        host: r.host().map(lossy),
        method: r.method.into_owned(),
        pid: r.pid,
        class,
        start_evidence: r.start_line.evidence(),
    }
}

/// Most slots the ring of recent records spans; a record older than that (a request hung for
/// longer, or in flight since long ago) moves to a side table, so a ring held open by one old
/// record never grows past 512 KiB.
const RING_SLOTS: usize = 1 << 16;

/// Live records by id. Ids grow by one per record and most records live for a few seconds of
/// log time, so recent ones sit in a ring indexed by id (O(1), where an ordered map spent most
/// of the correlator's time searching); older ones in an ordered map beside it.
#[derive(Default)]
struct Records {
    old: BTreeMap<u64, Box<Req>>,
    /// The id of `ring[0]`; every id below it is in `old` or gone.
    first: u64,
    /// Starts with a live record (or is empty).
    ring: VecDeque<Option<Box<Req>>>,
    live: usize,
}

impl Records {
    fn len(&self) -> usize {
        self.live
    }

    /// Files the record of the next id.
    fn insert(&mut self, id: u64, req: Box<Req>) {
        if self.ring.is_empty() {
            self.first = id;
        }
        debug_assert_eq!(id, self.first + self.ring.len() as u64);
        self.ring.push_back(Some(req));
        self.live += 1;
        if self.ring.len() > RING_SLOTS {
            if let Some(Some(r)) = self.ring.pop_front() {
                self.old.insert(self.first, r);
            }
            self.first += 1;
            self.trim();
        }
    }

    /// Drops the empty slots at the front.
    fn trim(&mut self) {
        while let Some(None) = self.ring.front() {
            self.ring.pop_front();
            self.first += 1;
        }
    }

    fn get(&self, id: &u64) -> Option<&Req> {
        if *id < self.first {
            return self.old.get(id).map(|r| &**r);
        }
        let k = usize::try_from(id - self.first).ok()?;
        self.ring.get(k)?.as_deref()
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Req> {
        if *id < self.first {
            return self.old.get_mut(id).map(|r| &mut **r);
        }
        let k = usize::try_from(id - self.first).ok()?;
        self.ring.get_mut(k)?.as_deref_mut()
    }

    fn remove(&mut self, id: &u64) -> Option<Box<Req>> {
        let r = if *id < self.first {
            self.old.remove(id)
        } else {
            let k = usize::try_from(id - self.first).ok()?;
            let r = self.ring.get_mut(k)?.take();
            self.trim();
            r
        };
        if r.is_some() {
            self.live -= 1;
        }
        r
    }

    /// The oldest live record.
    fn first(&self) -> Option<(u64, &Req)> {
        if let Some((id, r)) = self.old.first_key_value() {
            return Some((*id, r));
        }
        Some((self.first, self.ring.front()?.as_deref()?))
    }

    /// The ids of all live records, oldest first.
    fn ids(&self) -> Vec<u64> {
        let ring = (self.first..).zip(&self.ring);
        let ring = ring.filter(|(_, r)| r.is_some()).map(|(id, _)| id);
        self.old.keys().copied().chain(ring).collect()
    }
}

impl std::ops::Index<&u64> for Records {
    type Output = Req;
    fn index(&self, id: &u64) -> &Req {
        self.get(id).expect("a live record")
    }
}

/// Removes `id` from a queue of record ids: O(1) at either end, where it nearly always is.
fn take_id(v: &mut VecDeque<u64>, id: u64) {
    if v.front() == Some(&id) {
        v.pop_front();
    } else if v.back() == Some(&id) {
        v.pop_back();
    } else if let Some(k) = v.iter().position(|x| *x == id) {
        v.remove(k);
    }
}

/// Queues by pid or by route are kept when they empty, for the next request of that worker or
/// route to reuse, unless there are more than this many: scanners' one-off paths and floods of
/// pids must not pile up empty queues.
const KEEP_EMPTY_QUEUES: usize = 4096;

/// Removes `id` from the queue of `key`, if any.
fn dequeue<K: Hash + Eq>(map: &mut FxHashMap<K, VecDeque<u64>>, key: K, id: u64) {
    let Some(v) = map.get_mut(&key) else {
        return;
    };
    take_id(v, id);
    if v.is_empty() && map.len() > KEEP_EMPTY_QUEUES {
        map.remove(&key);
    }
}

/// Hash of (method, path): the index under which records wait for their access line.
fn route_key(method: &str, path: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    method.hash(&mut h);
    path.hash(&mut h);
    h.finish()
}

/// An access line no record claimed yet.
struct PendingAccess {
    time: Ts,
    key: u64,
    method: Method,
    path: Box<[u8]>,
    status: u16,
    probe_agent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attach {
    None,
    BootError,
    ServerError,
}

/// Decodes `%XX` escapes and, unless `keep_query`, drops the query string: the access line's
/// URI as Django's `request.path` would show it.
fn app_path(uri: &[u8], keep_query: bool) -> Cow<'_, [u8]> {
    let end = if keep_query {
        None
    } else {
        memchr::memchr(b'?', uri)
    };
    let path = &uri[..end.unwrap_or(uri.len())];
    if !path.contains(&b'%') {
        return Cow::Borrowed(path);
    }
    let mut out = Vec::with_capacity(path.len());
    let mut k = 0;
    while k < path.len() {
        if path[k] == b'%' && k + 2 < path.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(path[k + 1]), hex(path[k + 2])) {
                out.push((h * 16 + l) as u8);
                k += 3;
                continue;
            }
        }
        out.push(path[k]);
        k += 1;
    }
    Cow::Owned(out)
}

/// An HTTP method: the standard ones need no allocation.
type Method = Cow<'static, str>;

fn method_name(b: &[u8]) -> Method {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    match KNOWN.iter().find(|m| m.as_bytes() == b) {
        Some(m) => Method::Borrowed(m),
        None => Method::Owned(lossy(b)),
    }
}

/// `b` as text, invalid UTF-8 replaced. Valid text (nearly all) takes the fast validator
/// (`str::from_utf8`), not `from_utf8_lossy`'s slower chunk iterator.
fn lossy_cow(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn lossy(b: &[u8]) -> String {
    lossy_cow(b).into_owned()
}

/// `10.96.27.85:8080`, `[fd00::1]:80` → the IP, if the host is an IP literal.
pub fn host_ip(host: &[u8]) -> Option<IpAddr> {
    // A name (no port, not ending in a digit) is no IP: the usual case skips the parsers, and
    // the UTF-8 check before them.
    if !host.contains(&b':') && !host.last().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let host = std::str::from_utf8(host).ok()?;
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    bare.parse().ok()
}

/// Private, shared or link-local addresses: a pod IP, a node IP, a cluster service.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

const PROBE_AGENTS: &[&str] = &[
    "kube-probe/",
    "GoogleHC/",
    "ELB-HealthChecker/",
    "Amazon-Route53-Health-Check-Service",
];

/// One stream's correlation state: the lines of one file and pod, in order.
pub struct Correlator {
    file: Arc<str>,
    settings: Arc<Settings>,
    out: Analysis,
    /// Live records by id; ids grow, so the first entry is the oldest.
    reqs: Records,
    next_id: u64,
    /// Open requests per pid, oldest first.
    open: FxHashMap<u32, VecDeque<u64>>,
    /// Finished (or orphaned) records waiting for their access line, in order of end.
    done: VecDeque<u64>,
    /// Records without access line, by (method, path), oldest first.
    unlinked: FxHashMap<u64, VecDeque<u64>>,
    /// Access lines no record claimed yet.
    pending_access: VecDeque<PendingAccess>,
    /// (pid, thread) whose next INCOMING follows the middleware's K8s-bypass line.
    k8s_pending: FxHashSet<(u32, Option<u64>)>,
    /// Pids seen serving requests concurrently although no worker class said so.
    concurrent_pids: FxHashSet<u32>,
    timed_out: FxHashSet<u32>,
    last_exit: Option<(u32, u32)>,
    shutting_down: bool,
    attach: Attach,
    has_access: bool,
    has_response: bool,
    has_incoming: bool,
    /// gunicorn's DEBUG request-start lines are in this stream.
    has_debug_starts: bool,
    /// The current line's time has sub-second precision.
    fine: bool,
    /// Another stream of the same input logs request ends (set when the input ends).
    ends_logged_elsewhere: bool,
    /// The current line's thread id and request id hash.
    line_thread: Option<u64>,
    line_rid: Option<u64>,
    /// Open records by request id hash.
    by_rid: FxHashMap<u64, u64>,
    /// Notices to hand out while following (None: not asked for).
    notices: Option<Vec<Notice>>,
    pod: Option<Arc<str>>,
    now: Option<Ts>,
    last_flush: Option<Ts>,
    /// The settings' health paths without their trailing `/`.
    health_paths: FxHashSet<Box<[u8]>>,
    /// The analysis's per-class and per-status counters while the stream runs, added to its
    /// maps when it ends: two ordered-map lookups per request were ~4% of correlating.
    by_class: [ClassStats; 3],
    status: Box<[u64; 600]>,
}

impl Correlator {
    pub fn new(file: Arc<str>, settings: Arc<Settings>) -> Correlator {
        // As a request logs them: `/healthz/`, `/healthz` and `healthz` are one path.
        let health_paths = settings
            .health_paths
            .iter()
            .map(|h| {
                let h = h.trim().trim_end_matches('/');
                let slash = if h.is_empty() || h.starts_with('/') {
                    ""
                } else {
                    "/"
                };
                format!("{slash}{h}").into_bytes().into()
            })
            .collect();
        Correlator {
            file,
            settings,
            out: Analysis::default(),
            reqs: Records::default(),
            next_id: 0,
            open: FxHashMap::default(),
            done: VecDeque::new(),
            unlinked: FxHashMap::default(),
            pending_access: VecDeque::new(),
            k8s_pending: FxHashSet::default(),
            concurrent_pids: FxHashSet::default(),
            timed_out: FxHashSet::default(),
            last_exit: None,
            shutting_down: false,
            attach: Attach::None,
            has_access: false,
            has_response: false,
            has_incoming: false,
            has_debug_starts: false,
            fine: false,
            ends_logged_elsewhere: false,
            line_thread: None,
            line_rid: None,
            by_rid: FxHashMap::default(),
            notices: None,
            pod: None,
            now: None,
            last_flush: None,
            health_paths,
            by_class: Default::default(),
            status: Box::new([0; 600]),
        }
    }

    /// Asks for notices (finished requests, alerts) as they happen; `pod` names the stream.
    pub fn enable_notices(&mut self, pod: Option<Arc<str>>) {
        self.notices = Some(Vec::new());
        self.pod = pod;
    }

    /// The notices gathered since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.notices
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn alert(&mut self, alert: AlertKind, message: String, time: Option<Ts>, e: &Evidence) {
        if let Some(n) = &mut self.notices {
            n.push(Notice::Alert {
                time: time.map(Ts::to_rfc3339),
                pod: self.pod.clone(),
                alert,
                message,
                file: e.file.clone(),
                line: e.line,
                text: e.text.clone(),
            });
        }
    }

    /// A worker died of a signal gunicorn did not send for a graceful stop.
    fn worker_killed(
        &mut self,
        w: u32,
        signal: String,
        sigkill: bool,
        oom_hint: bool,
        time: Option<Ts>,
        e: Evidence,
    ) {
        if sigkill && self.timed_out.contains(&w) {
            self.out.kills_after_timeout += 1;
            self.out.workers_killed += 1;
        } else if sigkill && self.shutting_down {
            // A request outlived graceful_timeout while gunicorn was stopping.
            self.out.kills_during_shutdown += 1;
        } else {
            if oom_hint {
                self.out.oom_suspected += 1;
                keep(&mut self.out.oom_evidence, || e.clone());
            }
            self.out.workers_killed += 1;
        }
        keep(&mut self.out.kill_evidence, || e.clone());
        let message = format!("worker {w} was sent {signal}");
        self.alert(AlertKind::WorkerKilled, message, time, &e);
        self.orphan_pid(w, Cause::WorkerKilled, time, e);
    }

    /// Whether worker `pid` serves one request at a time: a sync worker (the default when no
    /// `Using worker:` line says otherwise), unless it was seen doing more.
    fn one_at_a_time(&self, pid: u32) -> bool {
        self.out.worker_class.as_deref().is_none_or(|c| c == "sync")
            && !self.concurrent_pids.contains(&pid)
    }

    fn timeout_secs(&self) -> f64 {
        settle_timeout(
            self.settings.timeout,
            self.out.timeout_from_logs,
            &self.out.orphans,
        )
        .0
    }

    /// Alerts once for each request open longer than the timeout at `now` (log time).
    pub fn tick(&mut self, now: Ts) {
        if self.notices.is_none() {
            return;
        }
        let timeout = self.timeout_secs();
        let limit = (timeout * 1e6) as i64;
        let mut late = Vec::new();
        for ids in self.open.values() {
            for id in ids {
                let r = &self.reqs[id];
                if !r.alerted && r.start.is_some_and(|s| now.0 - s.0 > limit) {
                    late.push(*id);
                }
            }
        }
        late.sort_unstable();
        for id in late {
            let r = self.reqs.get_mut(&id).expect("open ids are live");
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
            self.alert(AlertKind::RequestOpenTooLong, message, Some(now), &e);
        }
    }

    fn notify_request(
        &mut self,
        r: &Req,
        class: Class,
        outcome: &'static str,
        cause: Option<Cause>,
    ) {
        let Some(n) = &mut self.notices else { return };
        let status = r.app_status.or(r.access.map(|a| a.0));
        n.push(Notice::Request {
            time: r.end.or(r.start).map(Ts::to_rfc3339),
            pod: self.pod.clone(),
            method: r.method.to_string(),
            path: lossy(r.path()),
            host: r.host().map(lossy),
            pid: r.pid,
            class,
            outcome,
            cause,
            status,
            latency_ms: match (r.start, r.end) {
                (Some(s), Some(e)) if outcome == "answered" => Some((e.0 - s.0) as f64 / 1000.0),
                _ => None,
            },
            file: r.start_line.file.clone(),
            line: r.start_line.line,
        });
    }

    fn evidence(&self, line: u64, raw: &[u8]) -> Evidence {
        Evidence::new(&self.file, line, raw)
    }

    /// Counts one physical line that is only part of a record (a CRI partial).
    pub fn count_partial(&mut self) {
        self.out.lines += 1;
        self.out.recognized += 1;
    }

    /// Feeds one line: `raw` is the whole physical line (for evidence), `time` the best time
    /// known for it (the envelope's, else the line's own).
    /// `fine`: the time has sub-second precision (it came from an envelope).
    pub fn feed(
        &mut self,
        file: &Arc<str>,
        line_no: u64,
        raw: &[u8],
        time: Option<Ts>,
        fine: bool,
        p: &Parsed<'_>,
    ) {
        self.out.lines += 1;
        if !Arc::ptr_eq(&self.file, file) {
            self.file = file.clone();
        }
        self.fine = fine && time.is_some();
        self.line_thread = p.thread;
        self.line_rid = p.request_id.map(|id| {
            let mut h = FxHasher::default();
            id.hash(&mut h);
            h.finish()
        });
        match p.event {
            Event::Unrecognized => {
                self.out.unrecognized += 1;
                if self.out.unrecognized_samples.len() < MAX_SAMPLES {
                    let e = self.evidence(line_no, raw);
                    self.out.unrecognized_samples.push(e);
                }
                return;
            }
            Event::Blank => {
                self.out.recognized += 1;
                self.out.blank += 1;
                return;
            }
            _ => self.out.recognized += 1,
        }
        if let Some(t) = time {
            if self.now.is_some_and(|n| t.0 < n.0 - LINK_WINDOW) {
                // The clock went back (logs concatenated out of order, a container restarted
                // with another clock): nothing of the later time will link to what waits now,
                // and waiting for the old "now" to pass would keep every new record forever.
                self.flush(true);
                self.now = Some(t);
                self.last_flush = Some(t);
            }
            self.now = Some(self.now.map_or(t, |n| n.max(t)));
            self.out.first_time = Some(self.out.first_time.map_or(t, |f| f.min(t)));
            self.out.last_time = self.out.last_time.max(self.now);
            if self.last_flush.is_none_or(|f| t.0 - f.0 > 1_000_000) {
                self.last_flush = Some(t);
                self.flush(false);
            }
        }
        let pid = p.pid;
        match &p.event {
            Event::Starting { version } => {
                let v = lossy(version);
                if !self.out.gunicorn_versions.contains(&v) {
                    self.out.gunicorn_versions.push(v);
                }
                self.shutting_down = false;
                let e = self.evidence(line_no, raw);
                keep(&mut self.out.start_evidence, || e);
            }
            Event::Listening { addrs } => {
                for a in addrs.split(|&c| c == b',') {
                    let a = lossy(a);
                    if !self.out.listening.contains(&a) {
                        self.out.listening.push(a);
                    }
                }
            }
            Event::UsingWorker { class } => self.out.worker_class = Some(lossy(class)),
            Event::Booting { pid: w } => {
                // A new worker may reuse the pid of one that timed out long ago.
                self.timed_out.remove(w);
                self.out.workers_booted += 1;
                self.out.timeline.at(time, |b| b.worker_boots += 1);
                self.shutting_down = false;
            }
            Event::HandlingSignal { signal } => {
                if matches!(*signal, b"term" | b"int" | b"quit") {
                    self.shutting_down = true;
                }
            }
            Event::WorkerTimeout { pid: w } => {
                self.out.worker_timeouts += 1;
                self.out.timeline.at(time, |b| b.worker_timeouts += 1);
                self.timed_out.insert(*w);
                let e = self.evidence(line_no, raw);
                keep(&mut self.out.timeout_evidence, || e.clone());
                let hung = self.open.get(w).and_then(|v| v.front()).map(|id| {
                    let r = &self.reqs[id];
                    format!(" while serving {} {}", r.method, lossy_cow(r.path()))
                });
                let message = format!("worker {w} timed out{}", hung.unwrap_or_default());
                self.alert(AlertKind::WorkerTimeout, message, time, &e);
                self.orphan_pid(*w, Cause::WorkerTimeout, time, e);
            }
            // SIGTERM/SIGINT/SIGQUIT are gunicorn's own graceful stops (shutdown, boot failure
            // halt, scale-down, uvicorn's normal exit): not a death to report.
            Event::WorkerSignalled {
                pid: w,
                signal,
                oom_hint,
            } if !matches!(*signal, b"SIGTERM" | b"SIGINT" | b"SIGQUIT") => {
                let e = self.evidence(line_no, raw);
                let kill = *signal == b"SIGKILL";
                self.worker_killed(*w, lossy(signal), kill, *oom_hint, time, e);
            }
            // gunicorn 20.1 names the signal by number and never says "out of memory": an
            // unexplained 9 is the same suspicion.
            Event::WorkerTerminatedBySignal { pid: w, signal }
                if !matches!(*signal, 2 | 3 | 15) =>
            {
                let e = self.evidence(line_no, raw);
                let kill = *signal == 9;
                self.worker_killed(*w, format!("signal {signal}"), kill, kill, time, e);
            }
            Event::WorkerExitCode {
                pid: w,
                code,
                period,
            } => {
                let twin = *period && self.last_exit == Some((*w, *code));
                self.last_exit = Some((*w, *code));
                if !twin {
                    self.out.worker_exits += 1;
                    let e = self.evidence(line_no, raw);
                    if *code == 3 || *code == 4 {
                        keep(&mut self.out.boot_evidence, || e.clone());
                    }
                    self.orphan_pid(*w, Cause::WorkerExited, time, e);
                }
            }
            Event::WorkerExiting { pid: w } => {
                let e = self.evidence(line_no, raw);
                self.orphan_pid(*w, Cause::WorkerExited, time, e);
            }
            Event::WorkerBootError => {
                self.out.boot_errors += 1;
                let e = self.evidence(line_no, raw);
                keep(&mut self.out.boot_evidence, || e);
            }
            Event::BootFailed { reason } => {
                self.out.boot_failed = true;
                let e = self.evidence(line_no, raw);
                let message = format!("gunicorn gave up: {}", lossy(reason));
                self.alert(AlertKind::BootFailure, message, time, &e);
                keep(&mut self.out.boot_evidence, || e);
            }
            Event::ErrorHandlingRequest { .. } => {
                self.out.request_errors += 1;
                let e = self.evidence(line_no, raw);
                keep(&mut self.out.server_error_evidence, || e);
            }
            Event::InvalidRequest { .. } => self.out.invalid_requests += 1,
            Event::Message if self.out.unknown_request_messages.len() < MAX_SAMPLES => {
                let t = p.text;
                let mentions = |w: &[u8]| memchr::memmem::find(t, w).is_some();
                if [
                    &b"GET "[..],
                    b"POST ",
                    b"HTTP/",
                    b"request",
                    b"REQUEST",
                    b"response",
                ]
                .iter()
                .any(|w| mentions(w))
                {
                    let e = self.evidence(line_no, raw);
                    self.out.unknown_request_messages.push(e);
                }
            }
            Event::ConfigValue {
                key: b"timeout",
                value,
            } => {
                // `timeout: 0` means no timeout at all in gunicorn; anything not a positive
                // number says nothing usable.
                let t = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<f64>().ok());
                if let Some(t) = t.filter(|t| t.is_finite() && *t > 0.0) {
                    self.out.timeout_from_logs = Some(t);
                }
            }
            Event::RequestStart { method, path } => {
                self.has_debug_starts = true;
                self.start(pid, time, line_no, raw, method, path, None, false);
            }
            Event::Incoming {
                method, path, host, ..
            } => {
                self.out.app_request_lines += 1;
                self.has_incoming = true;
                self.start(pid, time, line_no, raw, method, path, Some(host), true);
            }
            Event::Response {
                method,
                path,
                status,
            } => {
                self.has_response = true;
                self.k8s_pending
                    .remove(&(pid.unwrap_or(0), self.line_thread));
                self.respond(pid, time, line_no, raw, method, path, *status);
            }
            Event::K8sInternal { .. } => {
                self.k8s_pending
                    .insert((pid.unwrap_or(0), self.line_thread));
            }
            Event::DisallowedHost {
                host,
                add,
                rfc_valid,
            } => {
                let host = lossy(host);
                self.out.timeline.at(time, |b| b.disallowed_hosts += 1);
                // Past the cap only the public host(s) are still listed: they are the point.
                let public = !self.settings.public_hosts.is_empty() && {
                    let domain = add.map(lossy).unwrap_or_else(|| host.to_ascii_lowercase());
                    self.settings.public_hosts.contains(&domain)
                };
                let listed = self.out.rejected_hosts.len() < MAX_HOSTS
                    || public
                    || self.out.rejected_hosts.contains_key(&host);
                if listed {
                    if !self.out.rejected_hosts.contains_key(&host) {
                        if self.notices.is_some() {
                            let e = self.evidence(line_no, raw);
                            let message = format!("Django rejects a new Host: {host}");
                            self.alert(AlertKind::NewDisallowedHost, message, time, &e);
                        }
                        self.out
                            .rejected_hosts
                            .insert(host.clone(), HostRejections::default());
                    }
                    let file = &self.file;
                    let entry = self
                        .out
                        .rejected_hosts
                        .get_mut(&host)
                        .expect("inserted above");
                    entry.count += 1;
                    entry.public = public;
                    entry.rfc_valid = *rfc_valid;
                    if entry.add.is_none() {
                        entry.add = add.map(lossy);
                    }
                    keep(&mut entry.evidence, || Evidence::new(file, line_no, raw));
                } else {
                    self.out.rejected_unlisted += 1;
                }
                // The request it rejected: by request id, else the newest on its thread, else
                // the newest on its pid.
                let by_rid = self.line_rid.and_then(|rid| self.by_rid.get(&rid).copied());
                let newest = by_rid.or_else(|| {
                    let open = self.open.get(&pid.unwrap_or(0))?;
                    let thread = self.line_thread;
                    open.iter()
                        .rev()
                        .find(|id| thread.is_none() || self.reqs[id].thread == thread)
                        .copied()
                });
                if let Some(r) = newest.and_then(|id| self.reqs.get_mut(&id)) {
                    r.rejected_host = Some(host);
                }
            }
            Event::DjangoRequest { status, .. } if *status >= 500 => {
                let e = self.evidence(line_no, raw);
                keep(&mut self.out.server_error_evidence, || e);
            }
            Event::Access(a) => {
                self.has_access = true;
                self.access(time, a);
            }
            // gunicorn ≥ 22 can die of an uncaught `HaltServer` instead of logging `Reason:`.
            Event::ExceptionLine { exc_type, message }
                if exc_type.ends_with(b"HaltServer")
                    && memchr::memmem::find(message, b"failed to").is_some() =>
            {
                self.out.boot_failed = true;
                let e = self.evidence(line_no, raw);
                let message = format!("gunicorn halted: {}", lossy(message));
                self.alert(AlertKind::BootFailure, message, time, &e);
                keep(&mut self.out.boot_evidence, || e);
            }
            Event::ExceptionLine { exc_type, message } => match self.attach {
                Attach::BootError => {
                    if self.out.boot_exceptions.len() < EVIDENCE_PER_KIND {
                        let text = format!("{}: {}", lossy(exc_type), lossy(message));
                        self.out.boot_exceptions.push(text);
                    }
                }
                Attach::ServerError => {
                    *self.out.exception_types.entry(lossy(exc_type)).or_default() += 1;
                }
                Attach::None => {}
            },
            _ => {}
        }
        // A structured record may carry its traceback in a field.
        if let Some(exc) = p.exception {
            match &p.event {
                Event::WorkerBootError if self.out.boot_exceptions.len() < EVIDENCE_PER_KIND => {
                    self.out.boot_exceptions.push(lossy(exc));
                }
                Event::ErrorHandlingRequest { .. } | Event::DjangoRequest { status: 500.., .. } => {
                    *self.out.exception_types.entry(lossy(exc)).or_default() += 1;
                }
                _ => {}
            }
        }
        // Which record a traceback that follows belongs to.
        match &p.event {
            Event::WorkerBootError => self.attach = Attach::BootError,
            Event::ErrorHandlingRequest { .. } => self.attach = Attach::ServerError,
            Event::DjangoRequest { status, .. } if *status >= 500 => {
                self.attach = Attach::ServerError
            }
            Event::TracebackStart
            | Event::TracebackLine
            | Event::ExceptionLine { .. }
            | Event::Access(_)
            | Event::Blank => {}
            _ => self.attach = Attach::None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        pid: Option<u32>,
        time: Option<Ts>,
        line_no: u64,
        raw: &[u8],
        method: &[u8],
        path: &[u8],
        host: Option<&[u8]>,
        incoming: bool,
    ) {
        let p = pid.unwrap_or(0);
        let method = method_name(method);
        // gunicorn's DEBUG line and the middleware's INCOMING line for the same request.
        if incoming && self.has_debug_starts {
            let twin = self.open.get(&p).and_then(|ids| {
                ids.iter().copied().find(|id| {
                    let r = &self.reqs[id];
                    !r.incoming && r.method == method && r.path() == path
                })
            });
            if let Some(id) = twin {
                let bypass = self.k8s_pending.remove(&(p, self.line_thread));
                let r = self.reqs.get_mut(&id).expect("open ids are live");
                r.incoming = true;
                r.host = host.map(|h| Part::Own(h.into()));
                r.k8s_bypass = bypass;
                return;
            }
        }
        // A sync worker (or one thread of a threaded one) serves one request at a time:
        // whatever it still had open was dropped.
        let thread = self.line_thread;
        let one_at_a_time = pid.is_some() && (self.one_at_a_time(p) || thread.is_some());
        if let (Some(ids), true) = (self.open.get_mut(&p), one_at_a_time) {
            for _ in 0..ids.len() {
                let id = ids.pop_front().expect("counted");
                let Some(r) = self.reqs.get_mut(&id) else {
                    continue;
                };
                if thread.is_some() && r.thread != thread {
                    ids.push_back(id);
                    continue;
                }
                r.outcome = Outcome::Superseded;
                r.end = time;
                self.done.push_back(id);
            }
        }
        let mut req = self.record(pid, method, path, line_no, raw);
        req.host = host.map(|h| req.start_line.part(raw, h));
        req.start = time;
        req.incoming = incoming;
        req.k8s_bypass = incoming && self.k8s_pending.remove(&(p, self.line_thread));
        req.rid = self.line_rid;
        req.fine_start = self.fine;
        let id = self.admit(req);
        self.open.entry(p).or_default().push_back(id);
        self.enforce_cap();
    }

    /// A new open record for a request on `pid`, started by the line `raw` (not yet admitted).
    fn record(
        &self,
        pid: Option<u32>,
        method: Method,
        path: &[u8],
        line_no: u64,
        raw: &[u8],
    ) -> Box<Req> {
        // Made on the heap at once, its line copied in there: a record is a few hundred
        // bytes, which each move copied.
        let mut req = Box::new(Req {
            key: route_key(&method, path),
            method,
            path: Part::At(0, 0),
            host: None,
            pid,
            start: None,
            end: None,
            incoming: true,
            k8s_bypass: false,
            app_status: None,
            access: None,
            outcome: Outcome::Open,
            rejected_host: None,
            start_line: RawLine::empty(&self.file, line_no),
            cause_evidence: None,
            thread: self.line_thread,
            alerted: false,
            rid: None,
            fine_start: false,
            fine_end: false,
        });
        req.start_line.keep(raw);
        req.path = req.start_line.part(raw, path);
        req
    }

    /// Files `req` under a new id: in the table, its route's queue, and by request id.
    fn admit(&mut self, req: Box<Req>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.unlinked.entry(req.key).or_default().push_back(id);
        if let Some(rid) = req.rid {
            self.by_rid.insert(rid, id);
        }
        self.reqs.insert(id, req);
        id
    }

    /// Keeps the record table bounded: past [`MAX_TRACKED`], the oldest record is settled now
    /// (finished ones are counted as they are; open ones are counted as evicted).
    fn enforce_cap(&mut self) {
        while self.reqs.len() > MAX_TRACKED {
            let Some((id, r)) = self.reqs.first() else {
                return;
            };
            if r.outcome != Outcome::Open {
                self.finish(id);
                continue;
            }
            let r = self.reqs.remove(&id).expect("first");
            if let Some(rid) = r.rid {
                self.by_rid.remove(&rid);
            }
            dequeue(&mut self.open, r.pid.unwrap_or(0), id);
            self.unlink(r.key, id);
            let class = self.classify(r.path(), r.host(), false, r.k8s_bypass);
            self.out.requests += 1;
            let s = self.class_stats(class);
            s.total += 1;
            s.evicted += 1;
        }
        while self.pending_access.len() > MAX_TRACKED {
            let p = self.pending_access.pop_front().expect("non-empty");
            self.access_only(&p.path, p.status, p.probe_agent);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        pid: Option<u32>,
        time: Option<Ts>,
        line_no: u64,
        raw: &[u8],
        method: &[u8],
        path: &[u8],
        status: u16,
    ) {
        let mut p = pid.unwrap_or(0);
        let by_rid = self
            .line_rid
            .and_then(|rid| self.by_rid.get(&rid).copied())
            .filter(|id| {
                self.reqs
                    .get(id)
                    .is_some_and(|r| r.outcome == Outcome::Open)
            });
        let method_s = method_name(method);
        let same_route = |r: &Req| r.method == method_s && r.path() == path;
        // Candidates come from the route's own queue (oldest first), so a pid with thousands
        // of other requests open costs nothing here.
        let key = route_key(&method_s, path);
        // The oldest matching record, and whether there is another one (looked for only when
        // `more` asks: the rest of a busy route's queue is long).
        let on_route = |want: Outcome, thread: Option<u64>, more: bool| -> (Option<u64>, bool) {
            let mut found = self
                .unlinked
                .get(&key)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| {
                    let r = &self.reqs[id];
                    r.outcome == want
                        && r.pid.unwrap_or(0) == p
                        && same_route(r)
                        && (thread.is_none() || r.thread == thread)
                });
            let first = found.next();
            (first, more && first.is_some() && found.next().is_some())
        };
        let found = if let Some(id) = by_rid {
            p = self.reqs[&id].pid.unwrap_or(0);
            self.out.pairing.by_request_id += 1;
            Some(id)
        } else if let Some(id) = self
            .line_thread
            .and_then(|th| on_route(Outcome::Open, Some(th), false).0)
        {
            self.out.pairing.by_thread += 1;
            Some(id)
        } else if let (Some(first), more) = on_route(Outcome::Open, None, !self.one_at_a_time(p)) {
            if more {
                self.out.pairing.ambiguous += 1;
            }
            self.out.pairing.by_pid_path += 1;
            Some(first)
        } else if let (Some(id), _) = on_route(Outcome::Superseded, None, false) {
            // A sync worker was assumed (no `Using worker:` line) but this pid answers a
            // request it had "moved on" from: it serves several at once. Revive that request
            // and stop assuming.
            self.concurrent_pids.insert(p);
            self.out.pairing.ambiguous += 1;
            Some(id)
        } else {
            None
        };
        let id = match found {
            Some(id) => {
                dequeue(&mut self.open, p, id);
                self.reqs.get_mut(&id).expect("found above").outcome = Outcome::Open;
                id
            }
            None => {
                // The start is not in the input (it began mid-request): still a request.
                self.out.unmatched_responses += 1;
                let req = self.record(pid, method_s, path, line_no, raw);
                let id = self.admit(req);
                self.enforce_cap();
                id
            }
        };
        let r = self.reqs.get_mut(&id).expect("live");
        r.app_status = Some(status);
        r.end = time;
        r.fine_end = self.fine;
        if r.outcome == Outcome::Open {
            r.outcome = Outcome::Answered;
        }
        let (linked, key) = (r.access.is_some(), r.key);
        self.done.push_back(id);
        if linked {
            // Its access line came first; it waited on the route's queue only for this.
            self.unlink(key, id);
        } else {
            self.claim_pending_access(id);
        }
    }

    /// Orphans every request open on worker `w`.
    fn orphan_pid(&mut self, w: u32, cause: Cause, time: Option<Ts>, e: Evidence) {
        let Some(ids) = self.open.remove(&w) else {
            return;
        };
        for id in ids {
            let r = self.reqs.get_mut(&id).expect("live");
            r.outcome = Outcome::Orphaned(cause);
            r.end = time;
            r.cause_evidence = Some(e.clone());
            self.done.push_back(id);
            self.claim_pending_access(id);
        }
    }

    fn link(&mut self, id: u64, status: u16, probe_agent: bool, time: Option<Ts>) {
        let has_incoming = self.has_incoming;
        let r = self.reqs.get_mut(&id).expect("live");
        r.access = Some((status, probe_agent));
        let key = r.key;
        match r.outcome {
            // The worker did answer; the app's end line is missing.
            Outcome::Superseded => r.outcome = Outcome::Answered,
            // Without middleware lines, the access line is the end of gunicorn's DEBUG start.
            Outcome::Open if !r.incoming && !has_incoming => {
                r.outcome = Outcome::Answered;
                r.end = time;
                dequeue(&mut self.open, r.pid.unwrap_or(0), id);
                self.done.push_back(id);
            }
            _ => {}
        }
        // An open record stays on its route's queue: that is where its RESPONSE looks for it.
        if r.outcome != Outcome::Open {
            self.unlink(key, id);
        }
    }

    /// Forgets that record `id` waits for an access line. Records leave roughly in the order
    /// they came, so this is O(1) but for the rare record settled out of turn.
    fn unlink(&mut self, key: u64, id: u64) {
        dequeue(&mut self.unlinked, key, id);
    }

    /// An access line: link it to its record, or keep it until one shows up.
    fn access(&mut self, time: Option<Ts>, a: &Access<'_>) {
        let method = method_name(a.method);
        let mut path = app_path(a.uri, false);
        let mut key = route_key(&method, &path);
        let waiting = |k: &u64| self.unlinked.get(k).is_some_and(|v| !v.is_empty());
        if !waiting(&key) && a.uri.contains(&b'?') {
            // Some apps log the query string as part of the path.
            let full = app_path(a.uri, true);
            let full_key = route_key(&method, &full);
            if waiting(&full_key) {
                (path, key) = (full, full_key);
            }
        }
        let probe_agent = self.is_probe_agent(a.user_agent);
        // The envelope's time when there is one, else the access line's completion time.
        let t = time.or(a.time);
        let best = self.unlinked.get(&key).and_then(|ids| {
            let close = |x: Option<Ts>| match (x, t) {
                (Some(x), Some(t)) => (x.0 - t.0).abs() <= LINK_SLACK,
                _ => true,
            };
            let started_before = |x: Option<Ts>| match (x, t) {
                (Some(x), Some(t)) => x.0 <= t.0 + LINK_SLACK,
                _ => true,
            };
            let mut fallback = None;
            for &id in ids {
                let r = &self.reqs[&id];
                if r.access.is_some() || r.method != method || r.path() != &*path {
                    continue;
                }
                match r.outcome {
                    Outcome::Answered | Outcome::Superseded if close(r.end) => {
                        if r.app_status.is_none_or(|s| s == a.status) {
                            return Some(id);
                        }
                        fallback = fallback.or(Some(id));
                    }
                    Outcome::Orphaned(_) if started_before(r.start) => {
                        fallback = fallback.or(Some(id));
                    }
                    Outcome::Open if started_before(r.start) => {
                        fallback = fallback.or(Some(id));
                    }
                    _ => {}
                }
            }
            fallback
        });
        match best {
            Some(id) => self.link(id, a.status, probe_agent, t),
            None => {
                let time = t.or(self.now).unwrap_or(Ts(i64::MIN));
                let status = a.status;
                self.pending_access.push_back(PendingAccess {
                    time,
                    key,
                    method,
                    path: path.into(),
                    status,
                    probe_agent,
                });
            }
        }
    }

    /// A record just ended: an access line that came first may be waiting for it.
    fn claim_pending_access(&mut self, id: u64) {
        let r = &self.reqs[&id];
        let pos = self.pending_access.iter().position(|p| {
            p.key == r.key
                && p.method == r.method
                && *p.path == *r.path()
                && match r.end {
                    Some(e) if p.time.0 != i64::MIN => (e.0 - p.time.0).abs() <= LINK_SLACK,
                    _ => true,
                }
        });
        if let Some(k) = pos {
            let p = self.pending_access.remove(k).expect("index");
            self.link(id, p.status, p.probe_agent, Some(p.time));
        }
    }

    /// Folds records that can no longer be linked into the counters.
    fn flush(&mut self, all: bool) {
        let horizon = self.now.map(|n| n.0 - LINK_WINDOW);
        let old = |t: Option<Ts>| all || matches!((t, horizon), (Some(t), Some(h)) if t.0 < h);
        while let Some(&id) = self.done.front() {
            let Some(r) = self.reqs.get(&id) else {
                self.done.pop_front();
                continue;
            };
            // Without times (uvicorn access lines, Python's basic layout), a record waits
            // for its access line until 64 more have finished.
            let waited = r.end.is_none() && self.done.len() > 64;
            if !(old(r.end) || waited) {
                break;
            }
            self.done.pop_front();
            if r.outcome == Outcome::Open {
                continue; // re-opened? never: only finished records are queued
            }
            self.finish(id);
        }
        while let Some(p) = self.pending_access.front() {
            if !(all || horizon.is_some_and(|h| p.time.0 < h)) {
                break;
            }
            let p = self.pending_access.pop_front().expect("front");
            self.access_only(&p.path, p.status, p.probe_agent);
        }
    }

    /// Whether a user agent is a health checker's (built in, or `--probe-agent`).
    fn is_probe_agent(&self, agent: Option<&[u8]>) -> bool {
        let Some(a) = agent else { return false };
        // As `String::from_utf8_lossy(a).starts_with(p)`, without decoding the whole agent:
        // the two differ only for a prefix holding U+FFFD, the replacement character (none of
        // the built-in ones does).
        let starts = |p: &str| a.starts_with(p.as_bytes());
        let starts_lossy = |p: &str| {
            starts(p) || (p.contains('\u{FFFD}') && String::from_utf8_lossy(a).starts_with(p))
        };
        PROBE_AGENTS.iter().any(|p| starts(p))
            || self.settings.probe_agents.iter().any(|p| starts_lossy(p))
    }

    fn classify(&self, path: &[u8], host: Option<&[u8]>, probe_agent: bool, bypass: bool) -> Class {
        let internal_host = || {
            host.and_then(host_ip).is_some_and(|ip| {
                is_internal(ip) || self.settings.internal_nets.iter().any(|n| n.contains(ip))
            })
        };
        if probe_agent || bypass || internal_host() {
            return Class::Probe;
        }
        let mut path = path;
        while let [rest @ .., b'/'] = path {
            path = rest;
        }
        if self.health_paths.contains(path) {
            return Class::Health;
        }
        Class::External
    }

    fn class_stats(&mut self, class: Class) -> &mut ClassStats {
        &mut self.by_class[class as usize]
    }

    fn count_status_code(&mut self, status: u16) {
        match self.status.get_mut(usize::from(status)) {
            Some(n) => *n += 1,
            None => *self.out.status.entry(status).or_default() += 1,
        }
    }

    /// Adds the counters kept aside while the stream ran to the analysis's maps (a class or
    /// status is listed once anything counted it).
    fn settle_counts(&mut self) {
        for class in [Class::Probe, Class::Health, Class::External] {
            let s = std::mem::take(self.class_stats(class));
            if s != ClassStats::default() {
                self.out.by_class.entry(class).or_default().merge(&s);
            }
        }
        for (code, n) in self.status.iter_mut().enumerate() {
            if *n > 0 {
                let code = u16::try_from(code).expect("below 600");
                *self.out.status.entry(code).or_default() += std::mem::take(n);
            }
        }
    }

    fn count_status(&mut self, class: Class, status: Option<u16>, host_rejected: bool) {
        let s = self.class_stats(class);
        match status {
            Some(st) if st < 400 => s.ok += 1,
            Some(st) if st < 500 => {
                s.client_error += 1;
                if host_rejected {
                    s.host_rejected += 1;
                }
            }
            Some(_) => s.server_error += 1,
            None => s.unknown_status += 1,
        }
        if let Some(st) = status {
            self.count_status_code(st);
        }
    }

    /// An access line no app line claimed: a request all the same (gunicorn answered it).
    fn access_only(&mut self, path: &[u8], status: u16, probe_agent: bool) {
        let class = self.classify(path, None, probe_agent, false);
        self.out.requests += 1;
        self.class_stats(class).total += 1;
        self.count_status(class, Some(status), false);
    }

    fn finish(&mut self, id: u64) {
        let r = self.reqs.remove(&id).expect("live");
        if let Some(rid) = r.rid {
            if self.by_rid.get(&rid) == Some(&id) {
                self.by_rid.remove(&rid);
            }
        }
        self.unlink(r.key, id);
        let probe_agent = r.access.is_some_and(|a| a.1);
        let class = self.classify(r.path(), r.host(), probe_agent, r.k8s_bypass);
        self.out.requests += 1;
        self.class_stats(class).total += 1;
        if let Some(h) = &r.rejected_host {
            if class == Class::Probe {
                if let Some(e) = self.out.rejected_hosts.get_mut(h) {
                    e.probe_requests += 1;
                }
            }
        }
        let access_status = r.access.map(|a| a.0);
        self.out.timeline.at(r.start.or(r.end), |b| match class {
            Class::Probe => b.probe += 1,
            Class::Health => b.health += 1,
            Class::External => b.external += 1,
        });
        let cause = match r.outcome {
            Outcome::Answered => None,
            Outcome::Orphaned(c) => Some(c),
            Outcome::Superseded => {
                // Nothing in this input could have logged its end: it simply finished.
                let could_end = self.ends_logged_elsewhere
                    || if r.incoming {
                        self.has_response || self.has_access
                    } else {
                        self.has_access
                    };
                could_end.then_some(Cause::NeverAnswered)
            }
            Outcome::Open => Some(Cause::OpenAtEnd),
        };
        self.notify_request(
            &r,
            class,
            if cause.is_some() {
                "orphaned"
            } else {
                "answered"
            },
            cause,
        );
        let Some(cause) = cause else {
            let status = r.app_status.or(access_status);
            self.count_status(class, status, r.rejected_host.is_some());
            if let Some(st) = status {
                self.out
                    .timeline
                    .at(r.end.or(r.start), |b| b.count_status(st));
            }
            if let (Some(s), Some(e), Some(_)) = (r.start, r.end, r.app_status) {
                let micros = (e.0 - s.0).max(0) as u64;
                let fine = r.fine_start && r.fine_end;
                let (method, path) = (&r.method, r.path());
                let route = (&**method, path, r.key);
                self.out.latency.add(route, micros, fine, || Slow {
                    method: method.to_string(),
                    path: lossy(path),
                    seconds: micros as f64 / 1e6,
                    started: s.to_rfc3339(),
                    status,
                    file: r.start_line.file.clone(),
                    line: r.start_line.line,
                });
            }
            if r.rejected_host.is_none() && status.is_some_and(|s| s < 400) && !r.k8s_bypass {
                if let Some(h) = r.host().map(lossy_cow) {
                    let hosts = &mut self.out.accepted_hosts;
                    let room = hosts.len() < MAX_HOSTS;
                    match hosts.get_mut(&*h) {
                        Some(n) => *n += 1,
                        None if room => {
                            hosts.insert(h.into_owned(), 1);
                        }
                        None => {}
                    }
                }
            }
            return;
        };
        self.class_stats(class).orphaned += 1;
        self.out.timeline.at(r.start.or(r.end), |b| b.orphans += 1);
        // gunicorn's own 500 to a timed-out request is a 5xx the client saw.
        if let Some(st) = access_status {
            self.out
                .timeline
                .at(r.end.or(r.start), |b| b.count_status(st));
            self.count_status_code(st);
        }
        self.out.orphans_total += 1;
        *self.out.orphan_causes.entry(cause).or_default() += 1;
        if self.out.orphans.len() < MAX_ORPHANS {
            let end = r.end.or(self.now);
            let cause_evidence = r.cause_evidence.clone();
            self.out.orphans.push(Orphan {
                request: listed(*r, class, end),
                cause,
                client_status: access_status,
                cause_evidence,
            });
        }
    }

    /// Ends the stream on its own: open requests become orphans or stay in flight.
    pub fn finish_stream(mut self) -> Analysis {
        self.settle_waiting();
        let end = StreamEnd {
            now: self.out.last_time,
            timeout: self.timeout_secs(),
            ends_logged: false,
        };
        self.finish_stream_keep(&end)
    }

    /// The input has ended: records waiting for their access line will not get one. Settled
    /// now, so that the WORKER TIMEOUT orphans among them count when the timeout in force is
    /// inferred (else it would depend on whether the log went on a few seconds longer).
    pub fn settle_waiting(&mut self) {
        self.flush(true);
    }

    /// The latest time this stream has seen.
    pub fn last_time(&self) -> Option<Ts> {
        self.out.last_time
    }

    /// Whether any line of this stream logged a request's end (RESPONSE or access line).
    pub fn ends_logged(&self) -> bool {
        self.has_response || self.has_access
    }

    /// What this stream has learnt so far.
    pub fn analysis(&self) -> &Analysis {
        &self.out
    }

    /// As [`Correlator::finish_stream`], keeping the correlator for its last notices.
    pub fn finish_stream_keep(&mut self, end: &StreamEnd) -> Analysis {
        let timeout = end.timeout;
        // Requests open at the end are aged by the input's end, not this pod's last line.
        let now = end.now.max(self.out.last_time);
        self.now = now;
        self.ends_logged_elsewhere = end.ends_logged;
        let open: Vec<u64> = self.open.drain().flat_map(|(_, v)| v).collect();
        let mut open = open;
        open.sort_unstable();
        for id in open {
            let r = self.reqs.get_mut(&id).expect("live");
            let age = match (r.start, now) {
                (Some(s), Some(n)) => Some((n.0 - s.0) as f64 / 1e6),
                _ => None,
            };
            let could_end = self.has_response || self.has_access || end.ends_logged;
            if r.access.is_some() {
                // Answered per its access line.
                r.outcome = Outcome::Answered;
                r.end = now;
                self.done.push_back(id);
            } else if could_end && age.is_some_and(|a| a > timeout) {
                r.outcome = Outcome::Orphaned(Cause::OpenAtEnd);
                r.end = now;
                self.done.push_back(id);
            } else {
                // In flight: counted, not judged.
                let r = self.reqs.remove(&id).expect("live");
                let class = self.classify(r.path(), r.host(), false, r.k8s_bypass);
                self.notify_request(&r, class, "in_flight", None);
                self.out.requests += 1;
                let s = self.class_stats(class);
                s.total += 1;
                s.in_flight += 1;
                if self.out.in_flight.len() < MAX_ORPHANS {
                    self.out.in_flight.push(listed(*r, class, now));
                }
            }
        }
        self.flush(true);
        // Anything left (records queued twice are skipped by `finish`'s removal).
        let left = self.reqs.ids();
        for id in left {
            self.finish(id);
        }
        self.out.timeline.settle();
        self.settle_counts();
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::LineParser;

    /// `cat app.log app.log | reqtrail`: the clock goes back at the join. Records waited for
    /// the old "now" to pass before being settled, so all later ones piled up to the 20,000
    /// cap (a 2 GiB doubled log took 4x as long and 90 MiB). They must be settled as usual.
    #[test]
    fn records_are_settled_after_the_clock_goes_back() {
        let settings = Arc::new(Settings::default());
        let file: Arc<str> = Arc::from("t.log");
        let mut c = Correlator::new(file.clone(), settings);
        let mut parser = LineParser::default();
        let mut feed = |c: &mut Correlator, line: String| {
            let mut scratch = Vec::new();
            let p = parser.parse(line.as_bytes(), &mut scratch);
            c.feed(&file, 1, line.as_bytes(), p.time, false, &p);
        };
        let at = |day: u32, s: u32| {
            format!(
                "2025-10-{day:02} {:02}:{:02}:{:02}",
                s / 3600,
                s / 60 % 60,
                s % 60
            )
        };
        feed(
            &mut c,
            format!(
                "[{} +0000] [7] [INFO] INCOMING REQUEST: GET /a from 10.0.0.1 Host: h",
                at(18, 0)
            ),
        );
        feed(
            &mut c,
            format!("[{} +0000] [7] [INFO] RESPONSE: GET /a -> 200", at(18, 0)),
        );
        let mut most = 0;
        for k in 0..3000 {
            let t = at(16, k * 10);
            feed(
                &mut c,
                format!("[{t} +0000] [7] [INFO] INCOMING REQUEST: GET /b from 10.0.0.1 Host: h"),
            );
            feed(
                &mut c,
                format!("[{t} +0000] [7] [INFO] RESPONSE: GET /b -> 200"),
            );
            most = most.max(c.reqs.len());
        }
        assert!(most < 10, "{most} records waited at once");
        let a = c.finish_stream();
        assert_eq!((a.requests, a.orphans_total), (3001, 0));
    }

    #[test]
    fn records_outlive_the_ring_and_stay_in_order() {
        let c = Correlator::new(Arc::from("t.log"), Arc::new(Settings::default()));
        let req = |n: u64| {
            c.record(
                Some(1),
                "GET".into(),
                format!("/{n}").as_bytes(),
                n,
                b"line",
            )
        };
        let mut t = Records::default();
        let n = RING_SLOTS as u64 + 10;
        for id in 0..n {
            t.insert(id, req(id));
            // Only record 0 (hung) and every 1000th stay live.
            if id > 0 && id % 1000 != 0 {
                assert!(t.remove(&id).is_some());
            }
        }
        assert!(t.ring.len() <= RING_SLOTS, "the ring is bounded");
        assert!(!t.old.is_empty(), "record 0 moved to the side table");
        assert_eq!(t.len(), 1 + (n as usize - 1) / 1000);
        assert_eq!(t[&0].path(), b"/0");
        assert_eq!(t.get(&65000).map(|r| r.path()), Some(&b"/65000"[..]));
        assert!(t.get(&65001).is_none());
        assert_eq!(t.first().map(|(id, _)| id), Some(0));
        let ids = t.ids();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids.len(), t.len());
        assert!(t.remove(&0).is_some());
        assert!(t.remove(&0).is_none());
        assert_eq!(t.first().map(|(id, _)| id), Some(1000));
        t.get_mut(&1000).unwrap().pid = Some(7);
        assert_eq!(t[&1000].pid, Some(7));
        for id in t.ids() {
            t.remove(&id);
        }
        assert_eq!(t.len(), 0);
        assert!(t.first().is_none());
        // Empty again: the next id starts the ring afresh.
        t.insert(n, req(n));
        assert_eq!(t.first().map(|(id, _)| id), Some(n));
    }

    fn run(lines: &[&str]) -> Analysis {
        let settings = Arc::new(Settings::default());
        let file: Arc<str> = Arc::from("t.log");
        let mut c = Correlator::new(file.clone(), settings);
        let mut p = LineParser::default();
        for (k, l) in lines.iter().enumerate() {
            let mut scratch = Vec::new();
            let parsed = p.parse(l.as_bytes(), &mut scratch);
            c.feed(
                &file,
                k as u64 + 1,
                l.as_bytes(),
                parsed.time,
                false,
                &parsed,
            );
        }
        c.finish_stream()
    }

    #[test]
    fn pairs_and_links_access() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] K8s internal request from 10.96.27.85 - bypassing ALLOWED_HOSTS",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /health/ from 127.0.0.6 Host: localhost",
            "127.0.0.6 - - [16/Oct/2025:08:00:00 +0000] \"GET /health/ HTTP/1.1\" 200 61 \"-\" \"curl/8\"",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /health/ -> 200",
            "[2025-10-16 08:00:01 +0000] [37] [INFO] INCOMING REQUEST: GET /a b/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:01 +0000] [37] [INFO] RESPONSE: GET /a b/ -> 404",
            "1.2.3.4 - - [16/Oct/2025:08:00:01 +0000] \"GET /a%20b/?x=1 HTTP/1.1\" 404 9 \"-\" \"Mozilla/5.0\"",
        ]);
        assert_eq!(a.requests, 2);
        assert_eq!(a.by_class[&Class::Probe].ok, 1);
        assert_eq!(a.by_class[&Class::External].client_error, 1);
        assert_eq!(a.status[&404], 1);
        assert_eq!(a.orphans_total, 0);
        assert_eq!(
            a.accepted_hosts.len(),
            0,
            "a 404 does not prove the host is allowed… it does not matter"
        );
    }

    /// A path and host are kept as places in the request's kept start line; one beyond the kept
    /// part of a long line is copied. Both must pair and be reported the same.
    #[test]
    fn paths_inside_and_beyond_the_kept_start_line() {
        let long = format!("/{}/", "x".repeat(evidence::EVIDENCE_CHARS * 4));
        let start = |path: &str, host: &str| {
            format!("[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET {path} from 1.2.3.4 Host: {host}")
        };
        let lines = [
            start(&long, "far.example.com"),
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /nope/ -> 200".to_string(),
            format!("[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET {long} -> 200"),
            start("/near/", "near.example.com"),
            "[2025-10-16 08:00:00 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)".to_string(),
        ];
        let a = run(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(a.unmatched_responses, 1, "/nope/ matched nothing");
        assert_eq!(a.accepted_hosts.get("far.example.com"), Some(&1));
        assert_eq!(a.orphans.len(), 1);
        assert_eq!(a.orphans[0].request.path, "/near/");
        assert_eq!(
            a.orphans[0].request.host.as_deref(),
            Some("near.example.com")
        );
        assert!(a.latency.routes.keys().any(|k| k.starts_with("GET /xxxx")));
    }

    #[test]
    fn timeout_orphans_and_twin_exit_lines_count_once() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:30 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:30 +0000] [36] [INFO] Worker exiting (pid: 36)",
            "[2025-10-16 08:00:30 +0000] [1] [ERROR] Worker (pid:36) exited with code 1",
            "[2025-10-16 08:00:30 +0000] [1] [ERROR] Worker (pid:36) exited with code 1.",
            "[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
        ]);
        assert_eq!(a.orphans_total, 1);
        assert_eq!(a.orphans[0].cause, Cause::WorkerTimeout);
        assert_eq!(a.orphans[0].request.open_seconds, Some(30.0));
        assert_eq!(a.worker_exits, 1);
        assert_eq!(a.oom_suspected, 0);
        assert_eq!(a.kills_after_timeout, 1);
    }

    #[test]
    fn a_reused_pid_does_not_inherit_an_old_timeout() {
        let a = run(&[
            "[2025-10-16 08:00:30 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
            "[2025-10-16 09:00:00 +0000] [36] [INFO] Booting worker with pid: 36",
            "[2025-10-16 09:30:00 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
        ]);
        assert_eq!(a.kills_after_timeout, 1);
        assert_eq!(a.oom_suspected, 1);
    }

    #[test]
    fn oom_without_timeout_is_suspected() {
        let a = run(&["[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?"]);
        assert_eq!(a.oom_suspected, 1);
        assert_eq!(a.workers_killed, 1);
    }

    #[test]
    fn sync_worker_moving_on_means_never_answered() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /admin/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:05 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:05 +0000] [36] [INFO] RESPONSE: GET /login/ -> 200",
        ]);
        assert_eq!(a.orphans_total, 1);
        assert_eq!(a.orphans[0].cause, Cause::NeverAnswered);
        assert_eq!(a.orphans[0].request.path, "/admin/");
        assert_eq!(a.accepted_hosts["app.example.com"], 1);
    }

    #[test]
    fn gunicorn_500_after_timeout_is_recorded() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
            "[2025-10-16 08:00:02 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:02 +0000] [36] [ERROR] Error handling request /slow/",
            "Traceback (most recent call last):",
            "  File \"x\", line 1, in y",
            "SystemExit: 1",
            "127.0.0.1 - - [16/Oct/2025:08:00:02 +0000] \"GET /slow/ HTTP/1.1\" 500 0 \"-\" \"-\"",
            "[2025-10-16 08:00:02 +0000] [36] [INFO] Worker exiting (pid: 36)",
        ]);
        assert_eq!(a.orphans_total, 1);
        assert_eq!(a.orphans[0].client_status, Some(500));
        assert_eq!(a.exception_types["SystemExit"], 1);
        assert_eq!(a.status[&500], 1);
    }

    #[test]
    fn open_at_end_depends_on_timeout() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:40 +0000] [37] [INFO] INCOMING REQUEST: GET /b/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:40 +0000] [38] [INFO] RESPONSE: GET /c/ -> 200",
        ]);
        assert_eq!(a.orphans_total, 1);
        assert_eq!(a.orphans[0].cause, Cause::OpenAtEnd);
        assert_eq!(a.by_class[&Class::External].in_flight, 1);
    }

    #[test]
    fn access_only_requests_count() {
        let a = run(&[
            "10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] \"GET /health/ HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.32\"",
            "1.2.3.4 - - [16/Oct/2025:08:00:00 +0000] \"GET / HTTP/1.1\" 400 143 \"-\" \"curl/8\"",
        ]);
        assert_eq!(a.requests, 2);
        assert_eq!(a.by_class[&Class::Probe].ok, 1);
        assert_eq!(a.by_class[&Class::External].client_error, 1);
    }

    #[test]
    fn disallowed_host_marks_request() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:00 +0000] [36] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
            "[2025-10-16 08:00:00 +0000] [36] [WARNING] Bad Request: /login/",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /login/ -> 400",
        ]);
        assert_eq!(a.rejected_hosts["app.example.com"].count, 1);
        assert_eq!(a.by_class[&Class::External].host_rejected, 1);
        assert!(a.accepted_hosts.is_empty());
    }

    #[test]
    fn probe_agents_by_prefix_of_the_agent_as_shown() {
        let settings = Settings {
            probe_agents: vec!["scan\u{FFFD}bot".into()],
            ..Settings::default()
        };
        let c = Correlator::new("t".into(), Arc::new(settings));
        assert!(c.is_probe_agent(Some(b"kube-probe/1.32")));
        assert!(!c.is_probe_agent(Some(b"curl/8.5.0")));
        // Shown lossily, `scan\xffbot` reads `scan\u{FFFD}bot`: the prefix a user would copy.
        assert!(c.is_probe_agent(Some(b"scan\xffbot/2")));
        assert!(!c.is_probe_agent(Some(b"scan bot/2")));
        // The built-in prefixes are compared as bytes only, which is the same for them.
        assert!(PROBE_AGENTS.iter().all(|p| !p.contains('\u{FFFD}')));
    }

    #[test]
    fn health_paths_as_typed_are_paths() {
        let settings = Settings {
            health_paths: vec!["healthz".into(), " /up/ ".into(), "/".into()],
            ..Settings::default()
        };
        let c = Correlator::new("t".into(), Arc::new(settings));
        let mut paths: Vec<&[u8]> = c.health_paths.iter().map(|p| &**p).collect();
        paths.sort();
        assert_eq!(paths, [&b""[..], b"/healthz", b"/up"]);
    }

    #[test]
    fn host_ips() {
        assert!(host_ip(b"10.96.27.85:8080").is_some_and(is_internal));
        assert!(host_ip(b"[fd00::1]:80").is_some_and(is_internal));
        assert!(host_ip(b"203.0.113.9").is_some_and(|ip| !is_internal(ip)));
        assert!(host_ip(b"app.example.com:80").is_none());
        assert_eq!(&*app_path(b"/a%20b/?x=%41", false), b"/a b/");
        assert_eq!(&*app_path(b"/a%20b/?x=%41", true), b"/a b/?x=A");
        assert_eq!(&*app_path(b"/bad%zz%4", false), b"/bad%zz%4");
    }
}
