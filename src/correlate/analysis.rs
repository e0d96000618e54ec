//! [`Analysis`]: everything one stream (or a whole input) taught, in a form that merges across
//! files and pods; and the types the report lists requests with ([`Listed`], [`Orphan`],
//! [`ClassStats`], [`Pairing`], [`PodSummary`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Evidence, EVIDENCE_PER_KIND};
use crate::parse::Ts;
use crate::stats::{Latency, Timeline};

/// How many orphans are kept with their details (all are counted).
pub const MAX_ORPHANS: usize = 500;

/// Most distinct pods (or compose services) followed apart; the rest share one stream.
pub const MAX_PODS: usize = 1000;
/// How many distinct rejected (or accepted) hosts are listed; scanners can send millions.
pub const MAX_HOSTS: usize = 1000;
/// How many unrecognised lines are kept as samples.
pub const MAX_SAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Probe,
    Health,
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    WorkerTimeout,
    WorkerKilled,
    WorkerExited,
    NeverAnswered,
    OpenAtEnd,
}

/// A request as the report lists it: what it was, where it started, how long it was open.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub method: String,
    pub path: String,
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub class: Class,
    pub started: Option<String>,
    /// Seconds from its start to the event that ended it, or to the end of the input.
    pub open_seconds: Option<f64>,
    pub file: Arc<str>,
    pub line: u64,
    #[serde(skip)]
    pub start_evidence: Evidence,
}

/// A request that was logged but never answered by the app.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    #[serde(flatten)]
    pub request: Listed,
    pub cause: Cause,
    /// The status the client got from gunicorn itself (22+: 500 after a timeout), if logged.
    pub client_status: Option<u16>,
    #[serde(skip)]
    pub cause_evidence: Option<Evidence>,
}

/// A request still open when the input ended, younger than the timeout (or of unknown age).
pub type InFlight = Listed;

/// One pod's (or compose service's) share of the input, when the input names pods.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PodSummary {
    pub pod: String,
    pub lines: u64,
    pub requests: u64,
    pub orphaned: u64,
    pub in_flight: u64,
    pub server_errors: u64,
    pub worker_timeouts: u64,
    pub workers_killed: u64,
    pub disallowed_hosts: u64,
    pub boot_failed: bool,
}

impl PodSummary {
    pub fn of(pod: &str, a: &Analysis) -> PodSummary {
        PodSummary {
            pod: pod.to_string(),
            lines: a.lines,
            requests: a.requests,
            orphaned: a.orphans_total,
            in_flight: a.by_class.values().map(|c| c.in_flight).sum(),
            server_errors: a.status.range(500..).map(|(_, n)| n).sum(),
            worker_timeouts: a.worker_timeouts,
            workers_killed: a.workers_killed,
            disallowed_hosts: a.rejected_hosts.values().map(|h| h.count).sum::<u64>()
                + a.rejected_unlisted,
            boot_failed: a.boot_failed,
        }
    }
}

/// Per-class request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClassStats {
    pub total: u64,
    /// Answered below 400.
    pub ok: u64,
    /// Answered 400–499 (DisallowedHost rejections included).
    pub client_error: u64,
    /// Rejected by ALLOWED_HOSTS.
    pub host_rejected: u64,
    pub server_error: u64,
    pub orphaned: u64,
    pub in_flight: u64,
    /// Still open when the record table was full: dropped from tracking, counted here.
    pub evicted: u64,
    /// Finished, but no line says with which status.
    pub unknown_status: u64,
}

impl ClassStats {
    pub(super) fn merge(&mut self, o: &ClassStats) {
        self.total += o.total;
        self.ok += o.ok;
        self.client_error += o.client_error;
        self.host_rejected += o.host_rejected;
        self.server_error += o.server_error;
        self.orphaned += o.orphaned;
        self.in_flight += o.in_flight;
        self.evicted += o.evicted;
        self.unknown_status += o.unknown_status;
    }
}

/// One host Django refused.
#[derive(Debug, Clone, Default)]
pub struct HostRejections {
    pub count: u64,
    /// Django's suggestion (lower-cased, port stripped), when its wording has one.
    pub add: Option<String>,
    pub rfc_valid: bool,
    /// Rejections that fell on probe requests.
    pub probe_requests: u64,
    /// Named by `--public-host`: listed whatever the cap.
    pub public: bool,
    pub evidence: Vec<Evidence>,
}

/// Everything learnt from the input, mergeable across files.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub lines: u64,
    /// Lines left out by `--since` / `--until` (counted in `lines`).
    pub filtered: u64,
    pub recognized: u64,
    pub unrecognized: u64,
    pub blank: u64,
    pub unrecognized_samples: Vec<Evidence>,
    /// Lines in a known layout whose message mentions a request but was not understood
    /// (a team's own request-logging wording, most likely).
    pub unknown_request_messages: Vec<Evidence>,
    /// The app's own request lines read (INCOMING / RESPONSE and declared patterns).
    pub app_request_lines: u64,

    pub gunicorn_versions: Vec<String>,
    pub worker_class: Option<String>,
    pub listening: Vec<String>,
    pub workers_booted: u64,
    pub worker_timeouts: u64,
    /// Kills and signal deaths outside a normal shutdown.
    pub workers_killed: u64,
    /// SIGKILLs that escalated a WORKER TIMEOUT of the same pid.
    pub kills_after_timeout: u64,
    /// SIGKILLs of workers still busy when a graceful stop's timeout ran out.
    pub kills_during_shutdown: u64,
    /// `Perhaps out of memory?` with no timeout before it.
    pub oom_suspected: u64,
    /// Non-zero exits (twin lines counted once).
    pub worker_exits: u64,
    pub boot_errors: u64,
    pub boot_failed: bool,
    pub boot_exceptions: Vec<String>,
    pub timeout_from_logs: Option<f64>,
    pub request_errors: u64,
    pub invalid_requests: u64,
    pub unmatched_responses: u64,
    pub start_evidence: Vec<Evidence>,
    pub timeout_evidence: Vec<Evidence>,
    pub kill_evidence: Vec<Evidence>,
    pub oom_evidence: Vec<Evidence>,
    pub boot_evidence: Vec<Evidence>,

    pub requests: u64,
    pub by_class: BTreeMap<Class, ClassStats>,
    pub status: BTreeMap<u16, u64>,
    pub orphans: Vec<Orphan>,
    pub orphans_total: u64,
    /// The first [`MAX_ORPHANS`] requests still open at the end (all are counted per class).
    pub in_flight: Vec<InFlight>,
    pub orphan_causes: BTreeMap<Cause, u64>,

    /// Rejected hosts, at most [`MAX_HOSTS`] distinct ones.
    pub rejected_hosts: BTreeMap<String, HostRejections>,
    /// Rejections of hosts beyond the first [`MAX_HOSTS`] distinct ones (counted, not listed).
    pub rejected_unlisted: u64,
    /// Hosts of requests the app accepted (answered, not rejected), excluding bypassed probes.
    pub accepted_hosts: BTreeMap<String, u64>,
    pub exception_types: BTreeMap<String, u64>,
    pub server_error_evidence: Vec<Evidence>,
    pub first_time: Option<Ts>,
    pub last_time: Option<Ts>,
    pub latency: Latency,
    pub timeline: Timeline,
    pub pairing: Pairing,
    /// Per pod, when the input names pods (kubectl --prefix, compose); at most 1,000.
    pub pods: Vec<PodSummary>,
}

/// How requests were paired with their end: which key, and how often it was ambiguous.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pairing {
    /// Ends matched by a request id field (JSON/logfmt `request_id`, a custom `id` group).
    pub by_request_id: u64,
    /// Ends matched by (pid, thread id).
    pub by_thread: u64,
    /// Ends matched by (pid, method, path), oldest first.
    pub by_pid_path: u64,
    /// Of those, ends that had several open candidates on a worker serving requests
    /// concurrently: the pairing may have swapped two of them.
    pub ambiguous: u64,
}

impl Analysis {
    /// Folds `o` (the next file, in input order) into `self`.
    pub fn merge(&mut self, o: Analysis) {
        fn extend(a: &mut Vec<Evidence>, b: Vec<Evidence>, cap: usize) {
            a.extend(b.into_iter().take(cap.saturating_sub(a.len())));
        }
        self.lines += o.lines;
        self.app_request_lines += o.app_request_lines;
        self.filtered += o.filtered;
        self.recognized += o.recognized;
        self.unrecognized += o.unrecognized;
        self.blank += o.blank;
        extend(
            &mut self.unrecognized_samples,
            o.unrecognized_samples,
            MAX_SAMPLES,
        );
        extend(
            &mut self.unknown_request_messages,
            o.unknown_request_messages,
            MAX_SAMPLES,
        );
        for v in o.gunicorn_versions {
            if !self.gunicorn_versions.contains(&v) {
                self.gunicorn_versions.push(v);
            }
        }
        self.worker_class = self.worker_class.take().or(o.worker_class);
        for l in o.listening {
            if !self.listening.contains(&l) {
                self.listening.push(l);
            }
        }
        self.workers_booted += o.workers_booted;
        self.worker_timeouts += o.worker_timeouts;
        self.workers_killed += o.workers_killed;
        self.kills_after_timeout += o.kills_after_timeout;
        self.kills_during_shutdown += o.kills_during_shutdown;
        self.oom_suspected += o.oom_suspected;
        self.worker_exits += o.worker_exits;
        self.boot_errors += o.boot_errors;
        self.boot_failed |= o.boot_failed;
        self.boot_exceptions.extend(o.boot_exceptions);
        self.boot_exceptions.truncate(EVIDENCE_PER_KIND);
        self.timeout_from_logs = self.timeout_from_logs.or(o.timeout_from_logs);
        self.request_errors += o.request_errors;
        self.invalid_requests += o.invalid_requests;
        self.unmatched_responses += o.unmatched_responses;
        extend(
            &mut self.start_evidence,
            o.start_evidence,
            EVIDENCE_PER_KIND,
        );
        extend(
            &mut self.timeout_evidence,
            o.timeout_evidence,
            EVIDENCE_PER_KIND,
        );
        extend(&mut self.kill_evidence, o.kill_evidence, EVIDENCE_PER_KIND);
        extend(&mut self.oom_evidence, o.oom_evidence, EVIDENCE_PER_KIND);
        extend(&mut self.boot_evidence, o.boot_evidence, EVIDENCE_PER_KIND);
        self.requests += o.requests;
        for (c, s) in o.by_class {
            self.by_class.entry(c).or_default().merge(&s);
        }
        for (s, n) in o.status {
            *self.status.entry(s).or_default() += n;
        }
        let room = MAX_ORPHANS.saturating_sub(self.orphans.len());
        self.orphans.extend(o.orphans.into_iter().take(room));
        self.orphans_total += o.orphans_total;
        let room = MAX_ORPHANS.saturating_sub(self.in_flight.len());
        self.in_flight.extend(o.in_flight.into_iter().take(room));
        for (c, n) in o.orphan_causes {
            *self.orphan_causes.entry(c).or_default() += n;
        }
        self.rejected_unlisted += o.rejected_unlisted;
        for (h, r) in o.rejected_hosts {
            if self.rejected_hosts.len() >= MAX_HOSTS
                && !r.public
                && !self.rejected_hosts.contains_key(&h)
            {
                self.rejected_unlisted += r.count;
                continue;
            }
            let e = self.rejected_hosts.entry(h).or_default();
            e.count += r.count;
            e.add = e.add.take().or(r.add);
            e.rfc_valid = if e.evidence.is_empty() {
                r.rfc_valid
            } else {
                e.rfc_valid
            };
            e.probe_requests += r.probe_requests;
            extend(&mut e.evidence, r.evidence, EVIDENCE_PER_KIND);
        }
        for (h, n) in o.accepted_hosts {
            if self.accepted_hosts.len() < MAX_HOSTS || self.accepted_hosts.contains_key(&h) {
                *self.accepted_hosts.entry(h).or_default() += n;
            }
        }
        for (t, n) in o.exception_types {
            *self.exception_types.entry(t).or_default() += n;
        }
        extend(
            &mut self.server_error_evidence,
            o.server_error_evidence,
            EVIDENCE_PER_KIND,
        );
        self.first_time = match (self.first_time, o.first_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_time = self.last_time.max(o.last_time);
        self.latency.merge(o.latency);
        let room = MAX_PODS.saturating_sub(self.pods.len());
        self.pods.extend(o.pods.into_iter().take(room));
        self.pairing.by_request_id += o.pairing.by_request_id;
        self.pairing.by_thread += o.pairing.by_thread;
        self.pairing.by_pid_path += o.pairing.by_pid_path;
        self.pairing.ambiguous += o.pairing.ambiguous;
        self.timeline.merge(o.timeline);
    }
}

/// What the whole input says when it ends, for each stream to settle its open requests.
#[derive(Debug, Clone, Copy)]
pub struct StreamEnd {
    /// The latest time of any stream.
    pub now: Option<Ts>,
    /// The worker timeout in force.
    pub timeout: f64,
    /// Some stream logs request ends, so a request without one was not answered.
    pub ends_logged: bool,
}

/// The worker timeout in force, and where it comes from: `--timeout`, else gunicorn's own
/// (config dump), else the shortest time a request was open before its WORKER TIMEOUT, else 30 s.
pub fn settle_timeout(
    flag: Option<f64>,
    logs: Option<f64>,
    orphans: &[Orphan],
) -> (f64, &'static str) {
    let inferred = orphans
        .iter()
        .filter(|o| o.cause == Cause::WorkerTimeout)
        .filter_map(|o| o.request.open_seconds)
        .reduce(f64::min)
        .map(|s| s.floor().max(1.0));
    match (flag, logs, inferred) {
        (Some(t), _, _) => (t, "--timeout"),
        (None, Some(t), _) => (t, "gunicorn's timeout in the logs"),
        (None, None, Some(t)) => (t, "inferred from the WORKER TIMEOUT lines"),
        (None, None, None) => (30.0, "default"),
    }
}
