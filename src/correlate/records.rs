//! Request records: one per request from its start line to the moment it can no longer change,
//! filed by id in a ring ([`Records`]) and indexed by worker pid, by route (method and path,
//! where RESPONSE and access lines look for them) and by request id ([`Book`]). How a line
//! opens or ends a record is in `pairing.rs`; how an access line joins one, in `join.rs`.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use super::join::AccessJoin;
use super::{Cause, Class, Evidence, Line, Listed, Part, RawLine};
use crate::parse::Ts;
use crate::time::Precision;

/// How many request records one stream keeps at most (open, or waiting for their access line).
pub const MAX_TRACKED: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Open,
    Answered,
    /// Its sync worker started another request; final unless an access line shows an answer.
    Superseded,
    Orphaned(Cause),
}

#[derive(Debug)]
pub(super) struct Req {
    pub(super) method: Method,
    pub(super) path: Part,
    pub(super) host: Option<Part>,
    pub(super) pid: Option<u32>,
    pub(super) start: Option<Ts>,
    pub(super) end: Option<Ts>,
    /// Started by the middleware's INCOMING line (else gunicorn's DEBUG line or a bare RESPONSE).
    pub(super) incoming: bool,
    pub(super) k8s_bypass: bool,
    pub(super) app_status: Option<u16>,
    /// The access line's status, and whether its user agent is a probe's.
    pub(super) access: Option<(u16, bool)>,
    pub(super) outcome: Outcome,
    pub(super) rejected_host: Option<String>,
    /// gunicorn's `Ignoring EPIPE` came for it: its client left before the answer.
    pub(super) client_gone: bool,
    pub(super) start_line: RawLine,
    pub(super) cause_evidence: Option<Evidence>,
    pub(super) key: u64,
    pub(super) thread: Option<u64>,
    /// An open-too-long alert went out for it.
    pub(super) alerted: bool,
    /// Hash of the request id, when the start line carried one.
    pub(super) rid: Option<u64>,
    /// How precise its start and end times are.
    pub(super) start_precision: Precision,
    pub(super) end_precision: Precision,
    /// It waits on its route's queue ([`Book::unlinked`]): settling it has it to leave.
    pub(super) queued: bool,
}

impl Req {
    fn blank(file: &std::sync::Arc<str>) -> Req {
        Req {
            key: 0,
            method: Method::Other("".into()),
            path: Part::At(0, 0),
            host: None,
            pid: None,
            start: None,
            end: None,
            incoming: true,
            k8s_bypass: false,
            app_status: None,
            access: None,
            outcome: Outcome::Open,
            rejected_host: None,
            client_gone: false,
            start_line: RawLine::empty(file, 0),
            cause_evidence: None,
            thread: None,
            alerted: false,
            rid: None,
            start_precision: Precision::Seconds,
            end_precision: Precision::Seconds,
            queued: false,
        }
    }

    /// Makes this a new open record for a request on `pid` started by `line`, in place (its
    /// start line's text, path and key are the caller's to set).
    fn reset(&mut self, line: &Line<'_>, new_pid: Option<u32>, new_method: Method) {
        // Every field named, so that a new one cannot be forgotten here.
        let Req {
            method,
            path,
            host,
            pid,
            start,
            end,
            incoming,
            k8s_bypass,
            app_status,
            access,
            outcome,
            rejected_host,
            client_gone,
            start_line,
            cause_evidence,
            key,
            thread,
            alerted,
            rid,
            start_precision,
            end_precision,
            queued,
        } = self;
        *method = new_method;
        *path = Part::At(0, 0);
        *host = None;
        *pid = new_pid;
        *start = None;
        *end = None;
        *incoming = true;
        *k8s_bypass = false;
        *app_status = None;
        *access = None;
        *outcome = Outcome::Open;
        *rejected_host = None;
        *client_gone = false;
        start_line.reset(line.file, line.no);
        *cause_evidence = None;
        *key = 0;
        *thread = line.thread;
        *alerted = false;
        *rid = None;
        *start_precision = Precision::Seconds;
        *end_precision = Precision::Seconds;
        *queued = false;
    }

    /// As logged (bytes: compared as they are, made text only for the report).
    pub(super) fn path(&self) -> &[u8] {
        self.start_line.get(&self.path)
    }

    pub(super) fn host(&self) -> Option<&[u8]> {
        self.host.as_ref().map(|h| self.start_line.get(h))
    }
}

/// The report's view of a record, open until `end` (settled, or live in a snapshot).
#[cold]
pub(super) fn listed(r: &Req, class: Class, end: Option<Ts>) -> Listed {
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
        method: r.method.to_string(),
        pid: r.pid,
        class,
        start_evidence: r.start_line.evidence(),
    }
}

/// Most slots the ring of recent records spans; a record older than that (a request hung for
/// longer, or in flight since long ago) moves to a side table, so a ring held open by one old
/// record never grows past 512 KiB.
pub(super) const RING_SLOTS: usize = 1 << 16;

/// Live records by id. Ids grow by one per record and most records live for a few seconds of
/// log time, so recent ones sit in a ring indexed by id (O(1), where an ordered map spent most
/// of the correlator's time searching); older ones in an ordered map beside it.
#[derive(Default)]
pub(super) struct Records {
    pub(super) old: BTreeMap<u64, Box<Req>>,
    /// The id of `ring[0]`; every id below it is in `old` or gone.
    pub(super) first: u64,
    /// Starts with a live record (or is empty).
    pub(super) ring: VecDeque<Option<Box<Req>>>,
    pub(super) live: usize,
}

impl Records {
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// Files the record of the next id.
    pub(super) fn insert(&mut self, id: u64, req: Box<Req>) {
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

    pub(super) fn get(&self, id: &u64) -> Option<&Req> {
        if *id < self.first {
            return self.old.get(id).map(|r| &**r);
        }
        let k = usize::try_from(id - self.first).ok()?;
        self.ring.get(k)?.as_deref()
    }

    pub(super) fn get_mut(&mut self, id: &u64) -> Option<&mut Req> {
        if *id < self.first {
            return self.old.get_mut(id).map(|r| &mut **r);
        }
        let k = usize::try_from(id - self.first).ok()?;
        self.ring.get_mut(k)?.as_deref_mut()
    }

    pub(super) fn remove(&mut self, id: &u64) -> Option<Box<Req>> {
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
    pub(super) fn first(&self) -> Option<(u64, &Req)> {
        if let Some((id, r)) = self.old.first_key_value() {
            return Some((*id, r));
        }
        Some((self.first, self.ring.front()?.as_deref()?))
    }

    /// The ids of all live records, oldest first.
    pub(super) fn ids(&self) -> Vec<u64> {
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
pub(super) fn dequeue<K: Hash + Eq>(map: &mut FxHashMap<K, VecDeque<u64>>, key: K, id: u64) {
    let Some(v) = map.get_mut(&key) else {
        return;
    };
    take_id(v, id);
    if v.is_empty() {
        forget_emptied(map, key);
    }
}

/// Drops the queue of `key`, just emptied, when too many queues are kept.
pub(super) fn forget_emptied<K: Hash + Eq>(map: &mut FxHashMap<K, VecDeque<u64>>, key: K) {
    if map.len() > KEEP_EMPTY_QUEUES {
        map.remove(&key);
    }
}

/// Hash of (method, path): the index under which records wait for their access line.
pub(super) fn route_key(method: &Method, path: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    method.hash(&mut h);
    path.hash(&mut h);
    h.finish()
}

/// The methods [`Method::Standard`] numbers, in its order.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// An HTTP method: a standard one by its number (comparing or hashing it is a byte's work,
/// where its text took a memcmp call), any other by its text, invalid UTF-8 replaced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Method {
    Standard(u8),
    Other(Box<str>),
}

impl Method {
    pub(super) fn as_str(&self) -> &str {
        match self {
            Method::Standard(k) => STANDARD_METHODS[usize::from(*k)],
            Method::Other(text) => text,
        }
    }

    /// As the notices publish it.
    pub(super) fn to_cow(&self) -> Cow<'static, str> {
        match self {
            Method::Standard(k) => Cow::Borrowed(STANDARD_METHODS[usize::from(*k)]),
            Method::Other(text) => Cow::Owned(text.to_string()),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The number of the standard method `b` is, if it is one. A `match` on the bytes (a switch
/// on the length, then a compare or two), where a search of the list compared nine slices.
#[inline]
fn standard_method(b: &[u8]) -> Option<u8> {
    Some(match b {
        b"GET" => 0,
        b"POST" => 1,
        b"HEAD" => 2,
        b"PUT" => 3,
        b"PATCH" => 4,
        b"DELETE" => 5,
        b"OPTIONS" => 6,
        b"CONNECT" => 7,
        b"TRACE" => 8,
        _ => return None,
    })
}

/// The method `b` names.
#[inline]
pub(super) fn method_name(b: &[u8]) -> Method {
    match standard_method(b) {
        Some(k) => Method::Standard(k),
        None => Method::Other(lossy(b).into()),
    }
}

/// Whether `m` is what [`method_name`] makes of `b`, without making it: a standard one by
/// its number, another by its text (`b`'s, invalid UTF-8 replaced).
#[inline]
pub(super) fn method_is(m: &Method, b: &[u8]) -> bool {
    match (m, standard_method(b)) {
        (Method::Standard(k), Some(n)) => *k == n,
        (Method::Other(text), None) => **text == *lossy_cow(b),
        _ => false,
    }
}

/// `b` as text, invalid UTF-8 replaced. Valid text (nearly all) takes the fast validator
/// (`str::from_utf8`), not `from_utf8_lossy`'s slower chunk iterator.
pub(super) fn lossy_cow(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    lossy_cow(b).into_owned()
}

/// The live records of one stream and the indexes that find them.
#[derive(Default)]
pub(super) struct Book {
    /// Live records by id; ids grow, so the first entry is the oldest.
    pub(super) reqs: Records,
    next_id: u64,
    /// Open requests per pid, oldest first.
    pub(super) open: FxHashMap<u32, VecDeque<u64>>,
    /// Finished (or orphaned) records waiting for their access line, in order of end.
    pub(super) done: VecDeque<u64>,
    /// Records without access line, by (method, path), oldest first.
    pub(super) unlinked: FxHashMap<u64, VecDeque<u64>>,
    /// Open records by request id hash.
    pub(super) by_rid: FxHashMap<u64, u64>,
    /// (pid, thread) whose next INCOMING follows the middleware's K8s-bypass line.
    pub(super) k8s_pending: FxHashSet<(u32, Option<u64>)>,
    /// Pids seen serving requests concurrently although no worker class said so.
    pub(super) concurrent_pids: FxHashSet<u32>,
    pub(super) has_response: bool,
    pub(super) has_incoming: bool,
    /// gunicorn's DEBUG request-start lines are in this stream.
    pub(super) has_debug_starts: bool,
    /// Settled records' boxes, for the next ones: no allocation per request (boxes, because
    /// the ring files records boxed).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Req>>,
}

/// Most settled records' boxes kept for reuse.
const SPARE_RECORDS: usize = 1024;

impl Book {
    /// A new open record for a request on `pid`, started by `line` (not yet admitted).
    pub(super) fn record(
        &mut self,
        line: &Line<'_>,
        pid: Option<u32>,
        method: Method,
        path: &[u8],
    ) -> Box<Req> {
        // A settled record's box when there is one, else a new one; filled in place, its
        // line copied in there: a record is a few hundred bytes, which each move copied.
        let mut req = self
            .spare
            .pop()
            .unwrap_or_else(|| Box::new(Req::blank(line.file)));
        req.reset(line, pid, method);
        req.start_line.keep(line.raw);
        req.path = req.start_line.part(line.raw, path);
        req.key = route_key(&req.method, path);
        req
    }

    /// Keeps the box of a settled record for the next one.
    pub(super) fn recycle(&mut self, r: Box<Req>) {
        if self.spare.len() < SPARE_RECORDS {
            self.spare.push(r);
        }
    }

    /// Files `req` under a new id: in the table, its route's queue, and by request id.
    pub(super) fn admit(&mut self, mut req: Box<Req>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.unlinked.entry(req.key).or_default().push_back(id);
        req.queued = true;
        if let Some(rid) = req.rid {
            self.by_rid.insert(rid, id);
        }
        self.reqs.insert(id, req);
        id
    }

    /// Forgets that record `id` waits for an access line. Records leave roughly in the order
    /// they came, so this is O(1) but for the rare record settled out of turn.
    pub(super) fn unlink(&mut self, key: u64, id: u64) {
        dequeue(&mut self.unlinked, key, id);
    }

    /// Record `id` got its access line (`status`, and whether a probe sent it).
    pub(super) fn link(&mut self, id: u64, status: u16, probe_agent: bool, time: Option<Ts>) {
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
        if r.outcome != Outcome::Open && r.queued {
            r.queued = false;
            self.unlink(key, id);
        }
    }

    /// Orphans every request open on worker `w` (an access line waiting for one links now).
    #[cold]
    pub(super) fn orphan_pid(
        &mut self,
        join: &mut AccessJoin,
        (w, cause, e): (u32, Cause, Evidence),
        time: Option<Ts>,
    ) {
        let Some(ids) = self.open.remove(&w) else {
            return;
        };
        for id in ids {
            let r = self.reqs.get_mut(&id).expect("live");
            r.outcome = Outcome::Orphaned(cause);
            r.end = time;
            r.cause_evidence = Some(e.clone());
            self.done.push_back(id);
            join.claim(self, id);
        }
    }

    /// Orphans every request open on any worker, for `cause` (the server stopped).
    #[cold]
    pub(super) fn orphan_all(
        &mut self,
        join: &mut AccessJoin,
        cause: Cause,
        line: &Line<'_>,
        time: Option<Ts>,
    ) {
        let mut pids: Vec<u32> = self.open.keys().copied().collect();
        pids.sort_unstable();
        for w in pids {
            self.orphan_pid(join, (w, cause, line.evidence()), time);
        }
    }

    /// Whether the K8s-bypass line of `worker` (pid, thread) waited for its request; it waits
    /// no more. Most requests have none, and an empty set is not hashed into.
    pub(super) fn take_k8s_pending(&mut self, worker: (u32, Option<u64>)) -> bool {
        !self.k8s_pending.is_empty() && self.k8s_pending.remove(&worker)
    }

    /// Removes record `id` from the table and from the request id index.
    // Always inlined, as `Book::pair_end` is.
    #[inline(always)]
    pub(super) fn take(&mut self, id: u64) -> Box<Req> {
        let r = self.reqs.remove(&id).expect("live");
        if let Some(rid) = r.rid {
            if self.by_rid.get(&rid) == Some(&id) {
                self.by_rid.remove(&rid);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::Line;

    #[test]
    fn method_is_agrees_with_method_name() {
        let names: [&[u8]; 8] = [
            b"GET",
            b"POST",
            b"TRACE",
            b"get",
            b"PROPFIND",
            b"",
            b"G\xffT",
            b"G\xfeT",
        ];
        for a in names {
            for b in names {
                assert_eq!(
                    method_is(&method_name(a), b),
                    method_name(a) == method_name(b)
                );
            }
        }
        for name in STANDARD_METHODS {
            let m = method_name(name.as_bytes());
            assert!(matches!(m, Method::Standard(_)));
            assert_eq!(m.as_str(), name);
            assert_eq!(m.to_cow(), name);
        }
        assert_eq!(method_name(b"PROPFIND"), Method::Other("PROPFIND".into()));
        assert_eq!(method_name(b"G\xffT").as_str(), "G\u{fffd}T");
    }

    #[test]
    fn records_outlive_the_ring_and_stay_in_order() {
        let file: std::sync::Arc<str> = "t.log".into();
        let req = |n: u64| {
            let line = Line {
                file: &file,
                no: n,
                raw: b"line",
                time: None,
                pid: Some(1),
                thread: None,
                rid: None,
                precision: Precision::Seconds,
            };
            Book::default().record(
                &line,
                Some(1),
                method_name(b"GET"),
                format!("/{n}").as_bytes(),
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
}
