//! The access-line join. gunicorn's access line (no pid, completion time, query string, user
//! agent) is linked to its record by method, path and time. It may come before the app's own
//! lines, because stdout and stderr are copied separately: then it waits here until a record
//! of its route ends, or until it is too old to link and counts as a request on its own.
//!
//! The join never moves a user agent, and so a class, from one request to another. When a line
//! could be several requests' (two of the route ended together), or a request could take
//! several waiting lines, each goes where the request's own evidence (Host, K8s-bypass line)
//! agrees with the agent: a probe's line to a probe. When nothing agrees, or the only request
//! there is unanswered or mismatched while the line's own may still be to come (gunicorn 20.1
//! writes no access line for a timed-out request), a health checker's line is linked without
//! its agent, and counted (`pairing.access_ambiguous`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use super::hosts::Hosts;
use super::records::{method_name, route_key, Book, Method, Outcome, Req};
use super::Class;
use crate::input::find_short;
use crate::parse::{Access, Ts};
use crate::settings::Settings;

/// How far apart (µs) an access line's time and its request's end may be.
pub(super) const LINK_SLACK: i64 = 2_000_000;

/// The first two ids of `queue` that `accepts`, in order. A plain loop: the queue is short (most
/// often the one record that just ended), and a filtering iterator resumed twice cost ~110
/// instructions an access line around the test itself.
#[inline(always)]
fn first_two(
    queue: &VecDeque<u64>,
    mut accepts: impl FnMut(u64) -> bool,
) -> (Option<u64>, Option<u64>) {
    let mut first = None;
    for &id in queue {
        if accepts(id) {
            if first.is_some() {
                return (first, Some(id));
            }
            first = Some(id);
        }
    }
    (first, None)
}

/// An access line no record claimed yet.
pub(super) struct PendingAccess {
    pub(super) time: Ts,
    pub(super) key: u64,
    pub(super) method: Method,
    pub(super) path: Box<[u8]>,
    pub(super) status: u16,
    pub(super) probe_agent: bool,
}

/// Decodes `%XX` escapes and, unless `keep_query`, drops the query string: the access line's
/// URI as Django's `request.path` would show it.
pub(super) fn app_path(uri: &[u8], keep_query: bool) -> Cow<'_, [u8]> {
    // One pass over the (short) URI, a word at a time, up to its query or first escape.
    let stop = if keep_query {
        find_short(uri, [b'%'])
    } else {
        find_short(uri, [b'%', b'?'])
    };
    let path = match stop {
        None => return Cow::Borrowed(uri),
        Some(k) if uri[k] == b'?' => return Cow::Borrowed(&uri[..k]),
        Some(k) => {
            let end = if keep_query {
                None
            } else {
                memchr::memchr(b'?', &uri[k..]).map(|q| k + q)
            };
            &uri[..end.unwrap_or(uri.len())]
        }
    };
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

/// The access lines of one stream that no record claimed yet.
pub(super) struct AccessJoin {
    /// Oldest first.
    pub(super) pending: VecDeque<PendingAccess>,
    /// Some access line was read in this stream.
    pub(super) seen: bool,
    /// Which requests are probes by their own evidence (Host, K8s-bypass line).
    hosts: Hosts,
    /// Health checkers' lines linked without their agent (the join was ambiguous and no
    /// request's own evidence agreed), since last taken.
    pub(super) ambiguous: u64,
}

impl AccessJoin {
    pub(super) fn new(settings: Arc<Settings>) -> AccessJoin {
        AccessJoin {
            pending: VecDeque::new(),
            seen: false,
            hosts: Hosts::new(settings),
            ambiguous: 0,
        }
    }

    /// Whether request `r` is a probe by its own lines, whatever agent an access line gives it.
    fn own_probe(&self, r: &Req) -> bool {
        self.hosts.classify(r.path(), r.host(), false, r.k8s_bypass) == Class::Probe
    }

    /// An access line: link it to its record, or keep it until one shows up. `probe_agent`:
    /// its user agent is a health checker's; `now`: the stream's latest time. Inlined into its
    /// one caller, as thin LTO did in some builds only.
    #[inline]
    pub(super) fn line(
        &mut self,
        book: &mut Book,
        a: &Access<'_>,
        (time, now): (Option<Ts>, Option<Ts>),
        probe_agent: bool,
    ) {
        self.seen = true;
        let method = method_name(a.method);
        let mut path = app_path(a.uri, false);
        let mut key = route_key(&method, &path);
        let waiting = |k: &u64| book.unlinked.get(k).filter(|v| !v.is_empty());
        let mut queue = waiting(&key);
        if queue.is_none() && a.uri.contains(&b'?') {
            // Some apps log the query string as part of the path.
            let full = app_path(a.uri, true);
            let full_key = route_key(&method, &full);
            if let Some(q) = waiting(&full_key) {
                (path, key, queue) = (full, full_key, Some(q));
            }
        }
        // The envelope's time when there is one, else the access line's completion time.
        let t = time.or(a.time);
        let close = |x: Option<Ts>| match (x, t) {
            (Some(x), Some(t)) => (x.0 - t.0).abs() <= LINK_SLACK,
            _ => true,
        };
        let started_before = |x: Option<Ts>| match (x, t) {
            (Some(x), Some(t)) => x.0 <= t.0 + LINK_SLACK,
            _ => true,
        };
        // The route's queue holds the records of this method and path (but for a collision of
        // their hash): the numbers are compared first, the bytes last.
        let mine = |r: &Req| r.access.is_none() && r.method == method && r.path() == &*path;
        // Ended near the line with its status: the line's own request, if only one is.
        let exact = |r: &Req| {
            r.access.is_none()
                && matches!(r.outcome, Outcome::Answered | Outcome::Superseded)
                && close(r.end)
                && r.app_status.is_none_or(|s| s == a.status)
                && mine(r)
        };
        let none = VecDeque::new();
        let queue = queue.unwrap_or(&none);
        let ids = || queue.iter().copied();
        let (first, second) = first_two(queue, |id| exact(&book.reqs[&id]));
        let (best, agent) = match (first, second) {
            (Some(id), None) => (Some(id), true),
            (Some(first), Some(_)) => {
                // Several could take it: the first whose own evidence agrees with the agent
                // (a probe's line to a probe), so that the agent moves no class.
                let agreeing = ids()
                    .filter(|id| exact(&book.reqs[id]))
                    .find(|id| self.own_probe(&book.reqs[id]) == probe_agent);
                match agreeing {
                    Some(id) => (Some(id), true),
                    None => {
                        // A probe's line and no probe by its own evidence: withheld, counted.
                        self.ambiguous += u64::from(probe_agent);
                        (Some(first), !probe_agent)
                    }
                }
            }
            (None, _) => {
                // An unanswered or mismatched request: the line's own may still be to come.
                let fallback = ids().find(|id| {
                    let r = &book.reqs[id];
                    match r.outcome {
                        Outcome::Answered | Outcome::Superseded => close(r.end) && mine(r),
                        Outcome::Orphaned(_) | Outcome::Open => started_before(r.start) && mine(r),
                    }
                });
                let agent =
                    !probe_agent || fallback.is_some_and(|id| self.own_probe(&book.reqs[&id]));
                if fallback.is_some() && !agent {
                    self.ambiguous += 1;
                }
                (fallback, agent)
            }
        };
        match best {
            Some(id) => book.link(id, a.status, probe_agent && agent, t),
            None => {
                let time = t.or(now).unwrap_or(Ts(i64::MIN));
                let status = a.status;
                self.pending.push_back(PendingAccess {
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

    /// Record `id` just ended: an access line that came first may be waiting for it. When
    /// lines of a probe and of another client both could be its, it takes the one its own
    /// evidence agrees with, so that no agent moves a class.
    pub(super) fn claim(&mut self, book: &mut Book, id: u64) {
        if self.pending.is_empty() {
            return; // the usual case: access lines come after their request's end
        }
        let r = &book.reqs[&id];
        let fits = |p: &PendingAccess| {
            p.key == r.key
                && p.method == r.method
                && *p.path == *r.path()
                && match r.end {
                    Some(e) if p.time.0 != i64::MIN => (e.0 - p.time.0).abs() <= LINK_SLACK,
                    _ => true,
                }
        };
        let Some(first) = self.pending.iter().position(fits) else {
            return;
        };
        let agent = self.pending[first].probe_agent;
        let mixed = self
            .pending
            .iter()
            .skip(first + 1)
            .any(|p| fits(p) && p.probe_agent != agent);
        let pos = if mixed {
            // Both kinds wait: one agrees with the request's own evidence, whichever it is.
            let own = self.own_probe(r);
            let agreeing = self
                .pending
                .iter()
                .position(|p| fits(p) && p.probe_agent == own);
            agreeing.unwrap_or(first)
        } else {
            first
        };
        let p = self.pending.remove(pos).expect("index");
        book.link(id, p.status, p.probe_agent, Some(p.time));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{run, Class};

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
        assert_eq!(a.traffic.total, 2);
        assert_eq!(a.traffic.by_class[&Class::Probe].ok, 1);
        assert_eq!(a.traffic.by_class[&Class::External].client_error, 1);
        assert_eq!(a.traffic.status[&404], 1);
        assert_eq!(a.traffic.orphans_total, 0);
        assert_eq!(
            a.hosts.accepted.len(),
            0,
            "a 404 does not prove the host is allowed… it does not matter"
        );
    }

    #[test]
    fn a_probe_agent_goes_to_the_request_that_is_a_probe_by_its_own_evidence() {
        // Two /health/ requests end in the same second; the probe's access line comes first.
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /health/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:00 +0000] [37] [INFO] INCOMING REQUEST: GET /health/ from 10.0.0.1 Host: 10.96.27.85:8000",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /health/ -> 200",
            "[2025-10-16 08:00:00 +0000] [37] [INFO] RESPONSE: GET /health/ -> 200",
            "10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] \"GET /health/ HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.32\"",
            "1.2.3.4 - - [16/Oct/2025:08:00:00 +0000] \"GET /health/ HTTP/1.1\" 200 2 \"-\" \"curl/8.5.0\"",
        ]);
        assert_eq!(a.traffic.by_class[&Class::Probe].total, 1);
        assert_eq!(a.traffic.by_class[&Class::Health].total, 1);
        // The probe's line could have been either's: settled by the requests' own evidence.
        assert_eq!(a.traffic.pairing.access_ambiguous, 0);
    }

    #[test]
    fn an_ambiguous_join_moves_no_agent_and_is_counted() {
        // gunicorn 20.1: the timed-out request has no access line of its own; a probe's line
        // comes before its own request's lines and could be either's.
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /health/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:30 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "10.0.0.1 - - [16/Oct/2025:08:00:31 +0000] \"GET /health/ HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.32\"",
            "[2025-10-16 08:00:31 +0000] [37] [INFO] INCOMING REQUEST: GET /health/ from 10.0.0.1 Host: app.example.com",
            "[2025-10-16 08:00:31 +0000] [37] [INFO] RESPONSE: GET /health/ -> 200",
            // Two answered together, neither a probe by its own evidence.
            "[2025-10-16 08:00:40 +0000] [37] [INFO] INCOMING REQUEST: GET /up/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:40 +0000] [38] [INFO] INCOMING REQUEST: GET /up/ from 1.2.3.5 Host: app.example.com",
            "[2025-10-16 08:00:40 +0000] [37] [INFO] RESPONSE: GET /up/ -> 200",
            "[2025-10-16 08:00:40 +0000] [38] [INFO] RESPONSE: GET /up/ -> 200",
            "10.0.0.1 - - [16/Oct/2025:08:00:40 +0000] \"GET /up/ HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.32\"",
        ]);
        // The timed-out request stays what its own lines say: no probe took its place.
        assert!(a
            .traffic
            .by_class
            .get(&Class::Probe)
            .is_none_or(|p| p.total == 0));
        assert_eq!(a.traffic.orphans[0].request.class, Class::Health);
        assert_eq!(a.traffic.pairing.access_ambiguous, 2);
    }

    #[test]
    fn access_only_requests_count() {
        let a = run(&[
            "10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] \"GET /health/ HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.32\"",
            "1.2.3.4 - - [16/Oct/2025:08:00:00 +0000] \"GET / HTTP/1.1\" 400 143 \"-\" \"curl/8\"",
        ]);
        assert_eq!(a.traffic.total, 2);
        assert_eq!(a.traffic.by_class[&Class::Probe].ok, 1);
        assert_eq!(a.traffic.by_class[&Class::External].client_error, 1);
    }

    #[test]
    fn app_paths_as_django_shows_them() {
        assert_eq!(&*app_path(b"/a%20b/?x=%41", false), b"/a b/");
        assert_eq!(&*app_path(b"/a%20b/?x=%41", true), b"/a b/?x=A");
        assert_eq!(&*app_path(b"/bad%zz%4", false), b"/bad%zz%4");
    }
}
