//! Settling: records that can no longer change (their access line came, or is too late to
//! come) are folded into the analysis's counters and lists, and forgotten; at the end of the
//! stream, requests still open become orphans or are counted in flight.

use super::records::{dequeue, listed, lossy, Outcome, Req, MAX_TRACKED};
use super::{Analysis, Cause, Class, Correlator, Orphan, StreamEnd, LINK_WINDOW, MAX_ORPHANS};
use crate::parse::Ts;
use crate::stats::Slow;

impl Correlator {
    /// Keeps the record table bounded: past [`MAX_TRACKED`], the oldest record is settled now
    /// (finished ones are counted as they are; open ones are counted as evicted).
    #[inline]
    pub(super) fn enforce_cap(&mut self) {
        if self.book.reqs.len() > MAX_TRACKED || self.join.pending.len() > MAX_TRACKED {
            self.shed();
        }
    }

    /// [`Correlator::enforce_cap`]'s work, when there is some.
    #[cold]
    fn shed(&mut self) {
        while self.book.reqs.len() > MAX_TRACKED {
            let Some((id, r)) = self.book.reqs.first() else {
                return;
            };
            if r.outcome != Outcome::Open {
                self.settle_record(id);
                continue;
            }
            let r = self.book.reqs.remove(&id).expect("first");
            if let Some(rid) = r.rid {
                self.book.by_rid.remove(&rid);
            }
            dequeue(&mut self.book.open, r.pid.unwrap_or(0), id);
            if r.queued {
                self.book.unlink(r.key, id);
            }
            let class = self.hosts.classify(r.path(), r.host(), false, r.k8s_bypass);
            self.out.traffic.total += 1;
            let s = self.tally.class(class);
            s.total += 1;
            s.evicted += 1;
        }
        while self.join.pending.len() > MAX_TRACKED {
            let p = self.join.pending.pop_front().expect("non-empty");
            self.access_only(&p.path, p.status, p.probe_agent);
        }
    }

    /// Folds records that can no longer be linked into the counters.
    pub(super) fn flush(&mut self, all: bool) {
        self.out.traffic.pairing.access_ambiguous += std::mem::take(&mut self.join.ambiguous);
        let horizon = self.now.map(|n| n.0 - LINK_WINDOW);
        let old = |t: Option<Ts>| all || matches!((t, horizon), (Some(t), Some(h)) if t.0 < h);
        while let Some(&id) = self.book.done.front() {
            let Some(r) = self.book.reqs.get(&id) else {
                self.book.done.pop_front();
                continue;
            };
            // Without times (uvicorn access lines, Python's basic layout), a record waits
            // for its access line until 64 more have finished.
            let waited = r.end.is_none() && self.book.done.len() > 64;
            if !(old(r.end) || waited) {
                break;
            }
            self.book.done.pop_front();
            if r.outcome == Outcome::Open {
                continue; // re-opened? never: only finished records are queued
            }
            self.settle_record(id);
        }
        while let Some(p) = self.join.pending.front() {
            if !(all || horizon.is_some_and(|h| p.time.0 < h)) {
                break;
            }
            let p = self.join.pending.pop_front().expect("front");
            self.access_only(&p.path, p.status, p.probe_agent);
        }
    }

    /// An access line no app line claimed, or a request gunicorn refused to read: a request all
    /// the same (gunicorn answered it).
    #[cold]
    pub(super) fn access_only(&mut self, path: &[u8], status: u16, probe_agent: bool) {
        let class = self.hosts.classify(path, None, probe_agent, false);
        self.out.traffic.total += 1;
        self.tally.class(class).total += 1;
        self.tally
            .answered(class, Some(status), false, &mut self.out.traffic.status);
    }

    /// Settles record `id`: it is counted, listed if orphaned, and forgotten.
    fn settle_record(&mut self, id: u64) {
        let r = self.book.take(id);
        if r.queued {
            self.book.unlink(r.key, id);
        }
        let probe_agent = r.access.is_some_and(|a| a.1);
        let class = self
            .hosts
            .classify(r.path(), r.host(), probe_agent, r.k8s_bypass);
        self.out.traffic.total += 1;
        self.tally.class(class).total += 1;
        if let Some(h) = &r.rejected_host {
            if class == Class::Probe {
                if let Some(e) = self.out.hosts.rejected.get_mut(h) {
                    e.probe_requests += 1;
                }
            }
        }
        let access_status = r.access.map(|a| a.0);
        self.out
            .time
            .timeline
            .at(r.start.or(r.end), |b| match class {
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
                        self.book.has_response || self.join.seen
                    } else {
                        self.join.seen
                    };
                could_end.then_some(Cause::NeverAnswered)
            }
            Outcome::Open => Some(Cause::OpenAtEnd),
        };
        let outcome = match cause {
            Some(_) => "orphaned",
            None if r.client_gone => "client_gone",
            None => "answered",
        };
        self.notices.request(&r, class, outcome, cause);
        let status = r.app_status.or(access_status);
        if self.keep_traces {
            self.out.traffic.traces.settled(&r, status, cause, false);
        }
        match cause {
            None if r.client_gone => self.client_gone(&r, class),
            None => self.answered(&r, class, status),
            // Few records are orphans: their boxes are not kept.
            Some(cause) => return self.orphaned(r, class, cause, access_status),
        }
        self.book.recycle(r);
    }

    /// A finished request whose client left before the answer was written: counted as that,
    /// not as answered (no status reached anyone); the Host Django accepted still counts.
    #[cold]
    fn client_gone(&mut self, r: &Req, class: Class) {
        self.tally.class(class).client_gone += 1;
        let accepted = r.rejected_host.is_none() && r.app_status.is_some_and(|s| s < 400);
        if accepted && !r.k8s_bypass {
            if let Some(h) = r.host() {
                self.tally.accepted(h);
            }
        }
    }

    /// A finished request that was answered (with `status`, if a line says which).
    fn answered(&mut self, r: &Req, class: Class, status: Option<u16>) {
        let out = &mut self.out;
        self.tally.answered(
            class,
            status,
            r.rejected_host.is_some(),
            &mut out.traffic.status,
        );
        if let Some(st) = status {
            out.time
                .timeline
                .at(r.end.or(r.start), |b| b.count_status(st));
        }
        if let (Some(s), Some(e), Some(_)) = (r.start, r.end, r.app_status) {
            let micros = (e.0 - s.0).max(0) as u64;
            let precision = r.start_precision.min(r.end_precision);
            let (method, path) = (&r.method, r.path());
            let route = (method.as_str(), path, r.key);
            out.time.latency.add(route, micros, precision, || Slow {
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
            if let Some(h) = r.host() {
                self.tally.accepted(h);
            }
        }
    }

    /// A finished request that was never answered; `access_status`: what gunicorn itself
    /// told the client, if anything.
    #[cold]
    fn orphaned(&mut self, r: Box<Req>, class: Class, cause: Cause, access_status: Option<u16>) {
        self.tally.orphaned(class, cause);
        self.out
            .time
            .timeline
            .at(r.start.or(r.end), |b| b.orphans += 1);
        // gunicorn's own 500 to a timed-out request is a 5xx the client saw.
        if let Some(st) = access_status {
            self.out
                .time
                .timeline
                .at(r.end.or(r.start), |b| b.count_status(st));
            self.tally.status_code(st, &mut self.out.traffic.status);
        }
        self.out.traffic.orphans_total += 1;
        *self.out.traffic.orphan_causes.entry(cause).or_default() += 1;
        if self.out.traffic.orphans.len() < MAX_ORPHANS {
            let end = r.end.or(self.now);
            let cause_evidence = r.cause_evidence.clone();
            self.out.traffic.orphans.push(Orphan {
                request: listed(&r, class, end),
                cause,
                client_status: access_status,
                cause_evidence,
            });
        }
    }

    /// Ends the stream on its own: open requests become orphans or stay in flight.
    pub fn into_analysis(mut self) -> Analysis {
        self.settle_waiting();
        let end = StreamEnd {
            now: self.out.time.last,
            timeout: self.timeout_secs(),
            ends_logged: false,
        };
        self.end_stream(&end)
    }

    /// The input has ended: records waiting for their access line will not get one. Settled
    /// now, so that the WORKER TIMEOUT orphans among them count when the timeout in force is
    /// inferred (else it would depend on whether the log went on a few seconds longer).
    pub fn settle_waiting(&mut self) {
        self.flush(true);
    }

    /// As [`Correlator::into_analysis`], keeping the correlator for its last notices.
    pub fn end_stream(&mut self, end: &StreamEnd) -> Analysis {
        let timeout = end.timeout;
        // Requests open at the end are aged by the input's end, not this pod's last line.
        let now = end.now.max(self.out.time.last);
        self.now = now;
        self.ends_logged_elsewhere = end.ends_logged;
        let open: Vec<u64> = self.book.open.drain().flat_map(|(_, v)| v).collect();
        let mut open = open;
        open.sort_unstable();
        for id in open {
            let r = self.book.reqs.get_mut(&id).expect("live");
            let age = match (r.start, now) {
                (Some(s), Some(n)) => Some((n.0 - s.0) as f64 / 1e6),
                _ => None,
            };
            let could_end = self.book.has_response || self.join.seen || end.ends_logged;
            if r.access.is_some() {
                // Answered per its access line.
                r.outcome = Outcome::Answered;
                r.end = now;
                self.book.done.push_back(id);
            } else if let Some(e) = self.workers.stopping() {
                // `Handling signal: term` and the log ends before `Shutting down: Master`.
                r.outcome = Outcome::Orphaned(Cause::Shutdown);
                r.cause_evidence = Some(e.clone());
                r.end = now;
                self.book.done.push_back(id);
            } else if could_end && age.is_some_and(|a| a > timeout) {
                r.outcome = Outcome::Orphaned(Cause::OpenAtEnd);
                r.end = now;
                self.book.done.push_back(id);
            } else {
                // In flight: counted, not judged.
                let r = self.book.reqs.remove(&id).expect("live");
                if self.keep_traces {
                    self.out.traffic.traces.settled(&r, None, None, true);
                }
                let class = self.hosts.classify(r.path(), r.host(), false, r.k8s_bypass);
                self.notices.request(&r, class, "in_flight", None);
                self.out.traffic.total += 1;
                let s = self.tally.class(class);
                s.total += 1;
                s.in_flight += 1;
                if self.out.traffic.in_flight.len() < MAX_ORPHANS {
                    self.out.traffic.in_flight.push(listed(&r, class, now));
                }
            }
        }
        self.flush(true);
        // Anything left (records queued twice are skipped by `settle_record`'s removal).
        let left = self.book.reqs.ids();
        for id in left {
            self.settle_record(id);
        }
        self.out.time.timeline.settle();
        self.tally.settle(&mut self.out);
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::parse::LineParser;

    /// Requests a stop cut are counted per class apart from other orphans, so a check can tell a
    /// planned stop from a failure (public_routes_answered warns on those alone).
    #[test]
    fn requests_cut_by_a_stop_are_counted_per_class() {
        let a = run(&[
            "[2026-11-28 03:46:53 +0000] [9] [INFO] INCOMING REQUEST: GET /stuck/ from 1.2.3.4 Host: app.example.com",
            "[2026-11-28 03:46:53 +0000] [10] [CRITICAL] WORKER TIMEOUT (pid:11)",
            "[2026-11-28 03:46:53 +0000] [11] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com",
            "[2026-11-28 03:46:54 +0000] [10] [CRITICAL] WORKER TIMEOUT (pid:11)",
            "[2026-11-28 03:46:55 +0000] [10] [INFO] Handling signal: term",
            "[2026-11-28 03:46:56 +0000] [10] [INFO] Shutting down: Master",
        ]);
        let ext = &a.traffic.by_class[&Class::External];
        assert_eq!((ext.total, ext.orphaned, ext.cut_by_shutdown), (2, 2, 1));
        assert_eq!(a.traffic.orphan_causes.get(&Cause::Shutdown), Some(&1));
    }

    /// `cat app.log app.log | reqtrail`: the clock goes back at the join. Records waited for
    /// the old "now" to pass before being settled, so all later ones piled up to the 20,000
    /// cap (a 2 GiB doubled log took 4x as long and 90 MiB). They must be settled as usual.
    #[test]
    fn records_are_settled_after_the_clock_goes_back() {
        let settings = Arc::new(Settings::default());
        let file: Arc<str> = Arc::from("t.log");
        let mut c = Correlator::new(settings);
        let mut parser = LineParser::default();
        let mut feed = |c: &mut Correlator, line: String| {
            let mut scratch = Vec::new();
            let p = parser.parse(line.as_bytes(), &mut scratch);
            c.feed(&file, 1, line.as_bytes(), None, &p);
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
            most = most.max(c.book.reqs.len());
        }
        assert!(most < 10, "{most} records waited at once");
        let a = c.into_analysis();
        assert_eq!((a.traffic.total, a.traffic.orphans_total), (3001, 0));
    }

    #[test]
    fn open_at_end_depends_on_timeout() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:40 +0000] [37] [INFO] INCOMING REQUEST: GET /b/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:40 +0000] [38] [INFO] RESPONSE: GET /c/ -> 200",
        ]);
        assert_eq!(a.traffic.orphans_total, 1);
        assert_eq!(a.traffic.orphans[0].cause, Cause::OpenAtEnd);
        assert_eq!(a.traffic.by_class[&Class::External].in_flight, 1);
    }
}
