//! Pairing a request's start with its end: INCOMING (or gunicorn's DEBUG start line) opens a
//! record on its worker pid; RESPONSE ends the oldest open one of the same route, found by
//! request id, else by thread, else by pid, method and path. A sync worker that starts another
//! request has dropped what it had open.

use std::collections::VecDeque;

use super::join::AccessJoin;
use super::records::{
    dequeue, forget_emptied, method_is, method_name, route_key, Book, Outcome, Records, Req,
};
use super::{Analysis, Line, Part};

/// Longest open queue of a pid searched directly for a RESPONSE's record (longer ones: the
/// route's queue instead).
const SHORT_OPEN_QUEUE: usize = 8;

impl Book {
    /// Whether worker `pid` serves one request at a time: a sync worker (the default when no
    /// `Using worker:` line says otherwise), unless it was seen doing more.
    pub(super) fn one_at_a_time(&self, worker_class: Option<&str>, pid: u32) -> bool {
        worker_class.is_none_or(|c| c == "sync") && !self.concurrent_pids.contains(&pid)
    }

    /// A request's start line (`incoming`: the middleware's INCOMING, with its Host).
    pub(super) fn start(
        &mut self,
        line: &Line<'_>,
        (method, path, host): (&[u8], &[u8], Option<&[u8]>),
        incoming: bool,
        worker_class: Option<&str>,
    ) {
        let pid = line.pid;
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
                let bypass = self.take_k8s_pending((p, line.thread));
                let r = self.reqs.get_mut(&id).expect("open ids are live");
                r.incoming = true;
                r.host = host.map(|h| Part::Own(h.into()));
                r.k8s_bypass = bypass;
                return;
            }
        }
        // A sync worker (or one thread of a threaded one) serves one request at a time.
        let one_at_a_time =
            pid.is_some() && (self.one_at_a_time(worker_class, p) || line.thread.is_some());
        let mut req = self.record(line, pid, method, path);
        req.host = host.map(|h| req.start_line.part(line.raw, h));
        req.start = line.time;
        req.incoming = incoming;
        req.k8s_bypass = incoming && self.take_k8s_pending((p, line.thread));
        req.rid = line.rid;
        req.start_precision = line.precision;
        let id = self.admit(req);
        // One lookup of the pid's queue serves both what it drops and what it adds.
        let ids = self.open.entry(p).or_default();
        if one_at_a_time {
            supersede(ids, (&mut self.reqs, &mut self.done), line);
        }
        ids.push_back(id);
    }

    /// The common case of a RESPONSE: its pid has one request open, and of its route. That one
    /// is what the search of [`Book::pair_end`] would find, by thread or else by pid and path,
    /// and the only one it could: it is taken off the pid's queue at once.
    fn pair_sole_open(
        &mut self,
        line: &Line<'_>,
        (method, path): (&[u8], &[u8]),
        out: &mut Analysis,
    ) -> Option<u64> {
        let p = line.pid.unwrap_or(0);
        let ids = self.open.get_mut(&p).filter(|ids| ids.len() == 1)?;
        let id = ids[0];
        let r = self.reqs.get(&id)?;
        if !ends(r, (Outcome::Open, p, None), (method, path)) {
            return None;
        }
        let pairing = &mut out.traffic.pairing;
        match line.thread {
            Some(_) if r.thread == line.thread => pairing.by_thread += 1,
            _ => pairing.by_pid_path += 1,
        }
        ids.clear();
        forget_emptied(&mut self.open, p);
        Some(id)
    }

    /// The record a RESPONSE line ends, and whether it had to be made (its start is not in
    /// the input): then the caller keeps the table bounded before [`Book::answer`].
    // Always inlined into its one caller, on every request: thin LTO made it a call in
    // some builds and not in others (~4 M instructions on the 20 MB slice between two).
    #[inline(always)]
    pub(super) fn pair_end(
        &mut self,
        line: &Line<'_>,
        (method, path): (&[u8], &[u8]),
        out: &mut Analysis,
    ) -> (u64, bool) {
        let mut p = line.pid.unwrap_or(0);
        let by_rid = line
            .rid
            .and_then(|rid| self.by_rid.get(&rid).copied())
            .filter(|id| {
                self.reqs
                    .get(id)
                    .is_some_and(|r| r.outcome == Outcome::Open)
            });
        if by_rid.is_none() {
            if let Some(id) = self.pair_sole_open(line, (method, path), out) {
                return (id, false);
            }
        }
        let method_s = method_name(method);
        // Candidates come from the pid's open queue while it is short (a sync worker's holds
        // one record: no hashing of the route at all), else from the route's own queue, so a
        // pid with thousands of other requests open costs nothing here. Both hold the pid's
        // open records of the route oldest first, so either finds the same ones.
        let mine = self
            .open
            .get(&p)
            .filter(|ids| ids.len() <= SHORT_OPEN_QUEUE);
        let route = || self.unlinked.get(&route_key(&method_s, path));
        // The oldest matching record, and whether there is another one (looked for only when
        // `more` asks: the rest of a busy route's queue is long).
        let on_route = |want: Outcome, thread: Option<u64>, more: bool| -> (Option<u64>, bool) {
            let queue = match mine {
                Some(ids) if want == Outcome::Open => Some(ids),
                _ => route(),
            };
            let mut found = queue.into_iter().flatten().copied().filter(|id| {
                self.reqs
                    .get(id)
                    .is_some_and(|r| ends(r, (want, p, thread), (method, path)))
            });
            let first = found.next();
            (first, more && first.is_some() && found.next().is_some())
        };
        let found = if let Some(id) = by_rid {
            p = self.reqs[&id].pid.unwrap_or(0);
            out.traffic.pairing.by_request_id += 1;
            Some(id)
        } else if let Some(id) = line
            .thread
            .and_then(|th| on_route(Outcome::Open, Some(th), false).0)
        {
            out.traffic.pairing.by_thread += 1;
            Some(id)
        } else if let (Some(first), more) = on_route(
            Outcome::Open,
            None,
            !self.one_at_a_time(out.workers.class.as_deref(), p),
        ) {
            if more {
                out.traffic.pairing.ambiguous += 1;
            }
            out.traffic.pairing.by_pid_path += 1;
            Some(first)
        } else if let (Some(id), _) = on_route(Outcome::Superseded, None, false) {
            // A sync worker was assumed (no `Using worker:` line) but this pid answers a
            // request it had "moved on" from: it serves several at once. Revive that request
            // and stop assuming.
            self.concurrent_pids.insert(p);
            out.traffic.pairing.ambiguous += 1;
            Some(id)
        } else {
            None
        };
        match found {
            Some(id) => {
                dequeue(&mut self.open, p, id);
                self.reqs.get_mut(&id).expect("found above").outcome = Outcome::Open;
                (id, false)
            }
            None => {
                // The start is not in the input (it began mid-request): still a request.
                out.traffic.unmatched_responses += 1;
                let req = self.record(line, line.pid, method_s, path);
                (self.admit(req), true)
            }
        }
    }

    /// Record `id` was answered with `status` by the app (its RESPONSE line).
    // Always inlined, as `Book::pair_end` is.
    #[inline(always)]
    pub(super) fn answer(&mut self, join: &mut AccessJoin, line: &Line<'_>, id: u64, status: u16) {
        let r = self.reqs.get_mut(&id).expect("live");
        r.app_status = Some(status);
        r.end = line.time;
        r.end_precision = line.precision;
        if r.outcome == Outcome::Open {
            r.outcome = Outcome::Answered;
        }
        let (linked, key) = (r.access.is_some(), r.key);
        self.done.push_back(id);
        if linked {
            // Its access line came first; it waited on the route's queue only for this.
            if std::mem::take(&mut r.queued) {
                self.unlink(key, id);
            }
        } else {
            join.claim(self, id);
        }
    }

    /// gunicorn's `Ignoring EPIPE` on `line`'s pid: the worker's last request lost its client
    /// before the answer was written. That is the newest finished record of the pid (its end
    /// lines come before gunicorn's line), else its oldest open one (the end is still to come:
    /// stdout's access line may lag stderr). Whether a record was found.
    #[cold]
    pub(super) fn client_gone(&mut self, line: &Line<'_>) -> bool {
        let pid = line.pid.unwrap_or(0);
        let thread = line.thread;
        let mine = |r: &Req| r.pid.unwrap_or(0) == pid && (thread.is_none() || r.thread == thread);
        // Only the last few records to finish: gunicorn logs the line right after the answer.
        let finished = self.done.iter().rev().take(64).copied().find(|id| {
            self.reqs
                .get(id)
                .is_some_and(|r| r.outcome == Outcome::Answered && !r.client_gone && mine(r))
        });
        let open = || {
            let ids = self.open.get(&pid)?;
            ids.iter().copied().find(|id| mine(&self.reqs[id]))
        };
        match finished.or_else(open).and_then(|id| self.reqs.get_mut(&id)) {
            Some(r) => {
                r.client_gone = true;
                true
            }
            None => false,
        }
    }

    /// Marks the request a DisallowedHost line rejected: by request id, else the newest on its
    /// thread, else the newest on its pid.
    #[cold]
    pub(super) fn mark_rejected(&mut self, line: &Line<'_>, host: String) {
        let by_rid = line.rid.and_then(|rid| self.by_rid.get(&rid).copied());
        let newest = by_rid.or_else(|| {
            let open = self.open.get(&line.pid.unwrap_or(0))?;
            let thread = line.thread;
            open.iter()
                .rev()
                .find(|id| thread.is_none() || self.reqs[id].thread == thread)
                .copied()
        });
        if let Some(r) = newest.and_then(|id| self.reqs.get_mut(&id)) {
            r.rejected_host = Some(host);
        }
    }
}

/// Whether a RESPONSE of `method` and `path` on worker `p` (and `thread`, when given) can end
/// record `r`, whose outcome must be `want`.
fn ends(
    r: &Req,
    (want, p, thread): (Outcome, u32, Option<u64>),
    (method, path): (&[u8], &[u8]),
) -> bool {
    r.outcome == want
        && r.pid.unwrap_or(0) == p
        && (thread.is_none() || r.thread == thread)
        && method_is(&r.method, method)
        && r.path() == path
}

/// A new request on the worker (or thread) of `line`, which serves one at a time: whatever
/// it still had open in `ids` was dropped, and is done.
#[inline]
fn supersede(
    ids: &mut VecDeque<u64>,
    (reqs, done): (&mut Records, &mut VecDeque<u64>),
    line: &Line<'_>,
) {
    let thread = line.thread;
    for _ in 0..ids.len() {
        let id = ids.pop_front().expect("counted");
        let Some(r) = reqs.get_mut(&id) else {
            continue;
        };
        if thread.is_some() && r.thread != thread {
            ids.push_back(id);
            continue;
        }
        r.outcome = Outcome::Superseded;
        r.end = line.time;
        done.push_back(id);
    }
}

#[cfg(test)]
mod tests {
    use crate::correlate::evidence;
    use crate::correlate::{run, Cause};

    #[test]
    fn epipe_after_a_request_means_its_client_left() {
        let a = run(&[
            "[2026-11-28 03:46:53 +0000] [9] [DEBUG] GET /slow/",
            "[2026-11-28 03:46:53 +0000] [9] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com",
            "[2026-11-28 03:46:55 +0000] [9] [INFO] RESPONSE: GET /slow/ -> 200",
            r#"1.2.3.4 - - [28/Nov/2026:03:46:55 +0000] "GET /slow/ HTTP/1.1" 200 2 "-" "curl/8.5.0""#,
            "[2026-11-28 03:46:55 +0000] [9] [DEBUG] Ignoring EPIPE",
            "[2026-11-28 03:46:56 +0000] [9] [DEBUG] GET /",
            "[2026-11-28 03:46:56 +0000] [9] [INFO] INCOMING REQUEST: GET / from 1.2.3.4 Host: app.example.com",
            "[2026-11-28 03:46:56 +0000] [9] [INFO] RESPONSE: GET / -> 200",
            r#"1.2.3.4 - - [28/Nov/2026:03:46:56 +0000] "GET / HTTP/1.1" 200 2 "-" "curl/8.5.0""#,
            "[2026-11-28 03:46:57 +0000] [10] [DEBUG] Ignoring EPIPE",
        ]);
        let ext = &a.traffic.by_class[&crate::correlate::Class::External];
        assert_eq!((ext.total, ext.client_gone, ext.ok), (2, 1, 1));
        assert_eq!(a.traffic.orphans_total, 0);
        // No status reached the client that left; the line of a worker with no request is
        // counted apart.
        assert_eq!(a.traffic.status.get(&200), Some(&1));
        assert_eq!(a.traffic.client_gone_unpaired, 1);
    }

    /// gunicorn's `Ignoring connection reset` (sync.py, gthread.py, at DEBUG) after a request:
    /// its client reset the connection before the answer, the same outcome as `Ignoring EPIPE`.
    #[test]
    fn a_connection_reset_after_a_request_means_its_client_left() {
        let a = run(&[
            "[2026-11-28 03:46:53 +0000] [9] [DEBUG] GET /slow/",
            "[2026-11-28 03:46:53 +0000] [9] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com",
            "[2026-11-28 03:46:55 +0000] [9] [INFO] RESPONSE: GET /slow/ -> 200",
            r#"1.2.3.4 - - [28/Nov/2026:03:46:55 +0000] "GET /slow/ HTTP/1.1" 200 2 "-" "curl/8.5.0""#,
            "[2026-11-28 03:46:55 +0000] [9] [DEBUG] Ignoring connection reset",
        ]);
        let ext = &a.traffic.by_class[&crate::correlate::Class::External];
        assert_eq!((ext.total, ext.client_gone, ext.ok), (1, 1, 0));
        assert_eq!(a.traffic.orphans_total, 0);
        assert_eq!(a.traffic.status.get(&200), None);
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
        assert_eq!(a.traffic.unmatched_responses, 1, "/nope/ matched nothing");
        assert_eq!(a.hosts.accepted.get("far.example.com"), Some(&1));
        assert_eq!(a.traffic.orphans.len(), 1);
        assert_eq!(a.traffic.orphans[0].request.path, "/near/");
        assert_eq!(
            a.traffic.orphans[0].request.host.as_deref(),
            Some("near.example.com")
        );
        assert!(a
            .time
            .latency
            .routes
            .iter()
            .any(|(k, _)| k.starts_with("GET /xxxx")));
    }

    #[test]
    fn sync_worker_moving_on_means_never_answered() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /admin/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:05 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:05 +0000] [36] [INFO] RESPONSE: GET /login/ -> 200",
        ]);
        assert_eq!(a.traffic.orphans_total, 1);
        assert_eq!(a.traffic.orphans[0].cause, Cause::NeverAnswered);
        assert_eq!(a.traffic.orphans[0].request.path, "/admin/");
        assert_eq!(a.hosts.accepted["app.example.com"], 1);
    }
}
