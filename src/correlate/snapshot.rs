//! A snapshot of a stream still being read: what `--metrics-listen` publishes while `--follow`
//! goes on. Ending a stream ([`Correlator::end_stream`]) settles it for good, so a live
//! exporter cannot call it; this takes the analysis so far without changing the correlator.
//!
//! Prometheus counters must only grow between scrapes, so a request is counted in a snapshot
//! only once nothing can change how it is counted: settled ones (the analysis and the tally),
//! and finished ones whose access line has come (its class, status and outcome are then
//! final). A finished request still waiting for its access line is left for a later snapshot
//! (at most a few seconds of log time); an access line waiting for its request likewise. Open
//! requests are not counted among the requests yet: they are the in-flight gauge and the
//! in-flight list, aged by the caller's `now`, whatever their age (the end of the input, not a
//! snapshot, decides which are orphans open at the end).

use super::records::{listed, lossy, Outcome, Req};
use super::{Analysis, Cause, Class, Correlator, Orphan, MAX_ORPHANS};
use crate::parse::Ts;

impl Correlator {
    /// The analysis of everything read so far, the stream left as it is; open requests are
    /// aged at `now` (log time; the stream's last time when earlier or none).
    pub fn snapshot(&self, now: Option<Ts>) -> Analysis {
        let mut a = self.out.clone();
        let mut tally = self.tally.clone();
        // The hosts settled so far come first, as they would in the analysis.
        tally.settle_hosts(&mut a);
        let now = now.max(self.out.time.last);
        for id in self.book.reqs.ids() {
            let Some(r) = self.book.reqs.get(&id) else {
                continue;
            };
            if r.outcome == Outcome::Open {
                let class = self.hosts.classify(r.path(), r.host(), false, r.k8s_bypass);
                tally.class(class).in_flight += 1;
                if a.traffic.in_flight.len() < MAX_ORPHANS {
                    a.traffic.in_flight.push(listed(r, class, now));
                }
            } else if r.access.is_some() {
                self.count_final(r, &mut a, &mut tally);
            }
        }
        a.time.timeline.settle();
        tally.settle(&mut a);
        a
    }

    /// Counts finished record `r`, whose access line has come, as settling it will.
    fn count_final(&self, r: &Req, a: &mut Analysis, tally: &mut super::tally::Tally) {
        let (access_status, probe_agent) = r.access.expect("only linked records are final");
        let class = self
            .hosts
            .classify(r.path(), r.host(), probe_agent, r.k8s_bypass);
        a.traffic.total += 1;
        tally.class(class).total += 1;
        if let (Some(h), Class::Probe) = (&r.rejected_host, class) {
            if let Some(e) = a.hosts.rejected.get_mut(h) {
                e.probe_requests += 1;
            }
        }
        let cause = match r.outcome {
            Outcome::Answered | Outcome::Open => None,
            Outcome::Orphaned(c) => Some(c),
            // An access line was read in this stream: its end could have been logged.
            Outcome::Superseded => Some(Cause::NeverAnswered),
        };
        let Some(cause) = cause else {
            let status = r.app_status.or(Some(access_status));
            let rejected = r.rejected_host.is_some();
            tally.answered(class, status, rejected, &mut a.traffic.status);
            if let (Some(s), Some(e), Some(_)) = (r.start, r.end, r.app_status) {
                let micros = (e.0 - s.0).max(0) as u64;
                let precision = r.start_precision.min(r.end_precision);
                let route = (r.method.as_str(), r.path(), r.key);
                a.time
                    .latency
                    .add(route, micros, precision, || crate::stats::Slow {
                        method: r.method.to_string(),
                        path: lossy(r.path()),
                        seconds: micros as f64 / 1e6,
                        started: s.to_rfc3339(),
                        status,
                        file: r.start_line.file.clone(),
                        line: r.start_line.line,
                    });
            }
            if !rejected && status.is_some_and(|s| s < 400) && !r.k8s_bypass {
                if let Some(h) = r.host().map(super::records::lossy_cow) {
                    super::hosts::count_accepted(&mut a.hosts.accepted, h);
                }
            }
            return;
        };
        tally.orphaned(class, cause);
        tally.status_code(access_status, &mut a.traffic.status);
        a.traffic.orphans_total += 1;
        *a.traffic.orphan_causes.entry(cause).or_default() += 1;
        if a.traffic.orphans.len() < MAX_ORPHANS {
            a.traffic.orphans.push(Orphan {
                request: listed(r, class, r.end.or(self.now)),
                cause,
                client_status: Some(access_status),
                cause_evidence: r.cause_evidence.clone(),
            });
        }
    }
}

impl Correlator {
    /// How many requests a snapshot leaves for later (open, or finished and waiting for their
    /// access line) and access lines still waiting for their request: ending the stream now
    /// would count each of them once more.
    pub fn unsettled(&self) -> u64 {
        let ids = self.book.reqs.ids();
        let waiting = ids
            .iter()
            .filter_map(|id| self.book.reqs.get(id))
            .filter(|r| r.outcome == Outcome::Open || r.access.is_none())
            .count();
        (waiting + self.join.pending.len()) as u64
    }
}
