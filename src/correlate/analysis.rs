//! [`Analysis`]: everything one stream (or a whole input) taught, in a form that merges across
//! files and pods; and the types the report lists requests with ([`Listed`], [`Orphan`],
//! [`ClassStats`], [`Pairing`], [`PodSummary`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::edge::EdgeFacts;
use super::users::AppTraces;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Probe,
    Health,
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    WorkerTimeout,
    WorkerKilled,
    WorkerExited,
    NeverAnswered,
    OpenAtEnd,
    /// Still open when gunicorn, told to stop (`Handling signal: term`), shut its workers
    /// down: the server was stopped, not crashed.
    Shutdown,
}

/// A request as the report lists it: what it was, where it started, how long it was open.
#[derive(Debug, Clone)]
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
    pub start_evidence: Evidence,
}

/// A request that was logged but never answered by the app.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub request: Listed,
    pub cause: Cause,
    /// The status the client got from gunicorn itself (22+: 500 after a timeout), if logged.
    pub client_status: Option<u16>,
    pub cause_evidence: Option<Evidence>,
}

/// A request still open when the input ended, younger than the timeout (or of unknown age).
pub type InFlight = Listed;

/// One pod's (or compose service's) share of the input, when the input names pods.
#[derive(Debug, Clone, Default)]
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
            lines: a.input.lines,
            requests: a.traffic.total,
            orphaned: a.traffic.orphans_total,
            in_flight: a.traffic.by_class.values().map(|c| c.in_flight).sum(),
            server_errors: a.traffic.status.range(500..).map(|(_, n)| n).sum(),
            worker_timeouts: a.workers.timeouts,
            workers_killed: a.workers.killed,
            disallowed_hosts: a.hosts.rejected.values().map(|h| h.count).sum::<u64>()
                + a.hosts.rejected_unlisted,
            boot_failed: a.workers.boot_failed,
        }
    }
}

/// Per-class request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Its client left before the answer was written (gunicorn's `Ignoring EPIPE`): not
    /// answered, and not the server's failure.
    pub client_gone: u64,
    /// Of `orphaned`, those cut by a stop of the server (cause `shutdown`): lost, but by a
    /// planned stop, which the checks judge apart from a failure.
    pub cut_by_shutdown: u64,
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
        self.client_gone += o.client_gone;
        self.cut_by_shutdown += o.cut_by_shutdown;
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

/// Everything learnt from the input, mergeable across files: a few groups of facts, each
/// merging itself field by field (a `let` destructures the other side, so a field added to a
/// group and forgotten in its merge does not compile).
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// How many lines were read, recognised or not, and samples of those not understood.
    pub input: LineFacts,
    /// gunicorn's and its workers' life: versions, boots, timeouts, kills, exits, boot failures.
    pub workers: WorkerFacts,
    /// Requests: counts, classes, statuses, orphans, those in flight, how they were paired.
    pub traffic: RequestFacts,
    /// Hosts Django rejected and hosts it accepted.
    pub hosts: HostFacts,
    /// The app's errors: request errors, exception types, 5xx evidence.
    pub errors: ErrorFacts,
    /// When: the first and last times, latencies, the timeline.
    pub time: TimeFacts,
    /// Per pod, when the input names pods (kubectl --prefix, compose), or per input read apart
    /// (`--separate`); at most 1,000.
    pub pods: Vec<PodSummary>,
    /// What the edge (proxy, load balancer, router) logged: what users got.
    pub edge: EdgeFacts,
}

/// Adds `b`'s evidence to `a`'s while `a` holds fewer than `cap`.
fn extend(a: &mut Vec<Evidence>, b: Vec<Evidence>, cap: usize) {
    a.extend(b.into_iter().take(cap.saturating_sub(a.len())));
}

/// Adds `b`'s count of each key to `a`'s.
fn add_counts<K: Ord>(a: &mut BTreeMap<K, u64>, b: BTreeMap<K, u64>) {
    for (k, n) in b {
        *a.entry(k).or_default() += n;
    }
}

/// Appends the items of `b` not in `a` yet.
fn union(a: &mut Vec<String>, b: Vec<String>) {
    for v in b {
        if !a.contains(&v) {
            a.push(v);
        }
    }
}

/// The lines read.
#[derive(Debug, Clone, Default)]
pub struct LineFacts {
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
    /// Lines read as an edge's records (counted in `recognized`).
    pub edge: u64,
}

impl LineFacts {
    pub fn merge(&mut self, o: LineFacts) {
        let LineFacts {
            lines,
            filtered,
            recognized,
            unrecognized,
            blank,
            unrecognized_samples,
            unknown_request_messages,
            app_request_lines,
            edge,
        } = o;
        self.lines += lines;
        self.edge += edge;
        self.app_request_lines += app_request_lines;
        self.filtered += filtered;
        self.recognized += recognized;
        self.unrecognized += unrecognized;
        self.blank += blank;
        extend(
            &mut self.unrecognized_samples,
            unrecognized_samples,
            MAX_SAMPLES,
        );
        extend(
            &mut self.unknown_request_messages,
            unknown_request_messages,
            MAX_SAMPLES,
        );
    }
}

/// gunicorn's and its workers' life, with the lines that show it.
#[derive(Debug, Clone, Default)]
pub struct WorkerFacts {
    pub gunicorn_versions: Vec<String>,
    pub class: Option<String>,
    pub listening: Vec<String>,
    pub booted: u64,
    pub timeouts: u64,
    /// Kills and signal deaths outside a normal shutdown.
    pub killed: u64,
    /// SIGKILLs that escalated a WORKER TIMEOUT of the same pid.
    pub kills_after_timeout: u64,
    /// SIGKILLs of workers still busy when a graceful stop's timeout ran out.
    pub kills_during_shutdown: u64,
    /// `Perhaps out of memory?` with no timeout before it.
    pub oom_suspected: u64,
    /// Non-zero exits (twin lines counted once).
    pub exits: u64,
    /// Workers gunicorn restarted on purpose after `max_requests` (`Autorestarting worker`).
    pub planned_restarts: u64,
    /// `Handling signal: hup`: reloads, each replacing every worker.
    pub reloads: u64,
    /// `Handling signal: term` (or `int`, `quit`): the server told to stop.
    pub stops: u64,
    pub boot_errors: u64,
    pub boot_failed: bool,
    pub boot_exceptions: Vec<String>,
    pub timeout_from_logs: Option<f64>,
    pub start_evidence: Vec<Evidence>,
    pub timeout_evidence: Vec<Evidence>,
    pub kill_evidence: Vec<Evidence>,
    pub oom_evidence: Vec<Evidence>,
    pub boot_evidence: Vec<Evidence>,
}

impl WorkerFacts {
    pub fn merge(&mut self, o: WorkerFacts) {
        let WorkerFacts {
            gunicorn_versions,
            class,
            listening,
            booted,
            timeouts,
            killed,
            kills_after_timeout,
            kills_during_shutdown,
            oom_suspected,
            exits,
            planned_restarts,
            reloads,
            stops,
            boot_errors,
            boot_failed,
            boot_exceptions,
            timeout_from_logs,
            start_evidence,
            timeout_evidence,
            kill_evidence,
            oom_evidence,
            boot_evidence,
        } = o;
        union(&mut self.gunicorn_versions, gunicorn_versions);
        self.class = self.class.take().or(class);
        union(&mut self.listening, listening);
        self.booted += booted;
        self.timeouts += timeouts;
        self.killed += killed;
        self.kills_after_timeout += kills_after_timeout;
        self.kills_during_shutdown += kills_during_shutdown;
        self.oom_suspected += oom_suspected;
        self.exits += exits;
        self.planned_restarts += planned_restarts;
        self.reloads += reloads;
        self.stops += stops;
        self.boot_errors += boot_errors;
        self.boot_failed |= boot_failed;
        self.boot_exceptions.extend(boot_exceptions);
        self.boot_exceptions.truncate(EVIDENCE_PER_KIND);
        self.timeout_from_logs = self.timeout_from_logs.or(timeout_from_logs);
        extend(&mut self.start_evidence, start_evidence, EVIDENCE_PER_KIND);
        extend(
            &mut self.timeout_evidence,
            timeout_evidence,
            EVIDENCE_PER_KIND,
        );
        extend(&mut self.kill_evidence, kill_evidence, EVIDENCE_PER_KIND);
        extend(&mut self.oom_evidence, oom_evidence, EVIDENCE_PER_KIND);
        extend(&mut self.boot_evidence, boot_evidence, EVIDENCE_PER_KIND);
    }
}

/// The requests: how many, of which class and status, which were never answered.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub total: u64,
    pub by_class: BTreeMap<Class, ClassStats>,
    pub status: BTreeMap<u16, u64>,
    /// The first [`MAX_ORPHANS`] orphans (all are counted in `orphans_total`).
    pub orphans: Vec<Orphan>,
    pub orphans_total: u64,
    /// The first [`MAX_ORPHANS`] requests still open at the end (all are counted per class).
    pub in_flight: Vec<InFlight>,
    pub orphan_causes: BTreeMap<Cause, u64>,
    /// RESPONSE lines whose start is not in the input.
    pub unmatched_responses: u64,
    /// `Ignoring EPIPE` lines with no request of their worker to put them on.
    pub client_gone_unpaired: u64,
    pub pairing: Pairing,
    /// The requests an edge failure can be about, kept to pair with the edge's records.
    pub traces: AppTraces,
}

impl RequestFacts {
    pub fn merge(&mut self, o: RequestFacts) {
        let RequestFacts {
            total,
            by_class,
            status,
            orphans,
            orphans_total,
            in_flight,
            orphan_causes,
            unmatched_responses,
            client_gone_unpaired,
            pairing,
            traces,
        } = o;
        self.total += total;
        for (c, s) in by_class {
            self.by_class.entry(c).or_default().merge(&s);
        }
        add_counts(&mut self.status, status);
        let room = MAX_ORPHANS.saturating_sub(self.orphans.len());
        self.orphans.extend(orphans.into_iter().take(room));
        self.orphans_total += orphans_total;
        let room = MAX_ORPHANS.saturating_sub(self.in_flight.len());
        self.in_flight.extend(in_flight.into_iter().take(room));
        add_counts(&mut self.orphan_causes, orphan_causes);
        self.unmatched_responses += unmatched_responses;
        self.client_gone_unpaired += client_gone_unpaired;
        self.pairing.merge(pairing);
        self.traces.merge(traces);
    }
}

/// Hosts Django refused and hosts it served.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Rejected hosts, at most [`MAX_HOSTS`] distinct ones.
    pub rejected: BTreeMap<String, HostRejections>,
    /// Rejections of hosts beyond the first [`MAX_HOSTS`] distinct ones (counted, not listed).
    pub rejected_unlisted: u64,
    /// Hosts of requests the app accepted (answered, not rejected), excluding bypassed probes.
    pub accepted: BTreeMap<String, u64>,
}

impl HostFacts {
    pub fn merge(&mut self, o: HostFacts) {
        let HostFacts {
            rejected,
            rejected_unlisted,
            accepted,
        } = o;
        self.rejected_unlisted += rejected_unlisted;
        for (h, r) in rejected {
            if self.rejected.len() >= MAX_HOSTS && !r.public && !self.rejected.contains_key(&h) {
                self.rejected_unlisted += r.count;
                continue;
            }
            self.rejected.entry(h).or_default().merge(r);
        }
        for (h, n) in accepted {
            if self.accepted.len() < MAX_HOSTS || self.accepted.contains_key(&h) {
                *self.accepted.entry(h).or_default() += n;
            }
        }
    }
}

impl HostRejections {
    fn merge(&mut self, o: HostRejections) {
        let HostRejections {
            count,
            add,
            rfc_valid,
            probe_requests,
            // Whether the host is public is decided where it is counted, not carried over.
            public: _,
            evidence,
        } = o;
        self.count += count;
        self.add = self.add.take().or(add);
        // The first file that rejected the host says whether its name is valid.
        if self.evidence.is_empty() {
            self.rfc_valid = rfc_valid;
        }
        self.probe_requests += probe_requests;
        extend(&mut self.evidence, evidence, EVIDENCE_PER_KIND);
    }
}

/// The app's errors.
#[derive(Debug, Clone, Default)]
pub struct ErrorFacts {
    /// `Error handling request` lines.
    pub request_errors: u64,
    /// gunicorn's `Invalid request` lines.
    pub invalid_requests: u64,
    pub exception_types: BTreeMap<String, u64>,
    pub server_error_evidence: Vec<Evidence>,
}

impl ErrorFacts {
    pub fn merge(&mut self, o: ErrorFacts) {
        let ErrorFacts {
            request_errors,
            invalid_requests,
            exception_types,
            server_error_evidence,
        } = o;
        self.request_errors += request_errors;
        self.invalid_requests += invalid_requests;
        add_counts(&mut self.exception_types, exception_types);
        extend(
            &mut self.server_error_evidence,
            server_error_evidence,
            EVIDENCE_PER_KIND,
        );
    }
}

/// When things happened and how long requests took.
#[derive(Debug, Clone, Default)]
pub struct TimeFacts {
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    pub latency: Latency,
    pub timeline: Timeline,
}

impl TimeFacts {
    pub fn merge(&mut self, o: TimeFacts) {
        let TimeFacts {
            first,
            last,
            latency,
            timeline,
        } = o;
        self.first = match (self.first, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(last);
        self.latency.merge(latency);
        self.timeline.merge(timeline);
    }
}

/// How requests were paired with their end: which key, and how often it was ambiguous.
#[derive(Debug, Clone, Copy, Default)]
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
    /// Health checkers' access lines that could be several requests' (or one still to come)
    /// and no request's own evidence settled whose: linked without the agent, so no request
    /// took another's class.
    pub access_ambiguous: u64,
}

impl Pairing {
    fn merge(&mut self, o: Pairing) {
        let Pairing {
            by_request_id,
            by_thread,
            by_pid_path,
            ambiguous,
            access_ambiguous,
        } = o;
        self.by_request_id += by_request_id;
        self.by_thread += by_thread;
        self.by_pid_path += by_pid_path;
        self.ambiguous += ambiguous;
        self.access_ambiguous += access_ambiguous;
    }
}

impl Analysis {
    /// Folds `o` (the next file, in input order) into `self`.
    pub fn merge(&mut self, o: Analysis) {
        let Analysis {
            input,
            workers,
            traffic,
            hosts,
            errors,
            time,
            pods,
            edge,
        } = o;
        self.input.merge(input);
        self.workers.merge(workers);
        self.traffic.merge(traffic);
        self.hosts.merge(hosts);
        self.errors.merge(errors);
        self.time.merge(time);
        let room = MAX_PODS.saturating_sub(self.pods.len());
        self.pods.extend(pods.into_iter().take(room));
        self.edge.merge(edge);
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

/// The worker timeout in force, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeout {
    pub seconds: f64,
    /// `--timeout`, gunicorn's timeout in the logs, inferred, or the default.
    pub source: &'static str,
}

/// The worker timeout in force: `--timeout`, else gunicorn's own (config dump), else the
/// shortest time a request was open before its WORKER TIMEOUT, else 30 s.
pub fn settle_timeout(flag: Option<f64>, logs: Option<f64>, orphans: &[Orphan]) -> Timeout {
    let inferred = orphans
        .iter()
        .filter(|o| o.cause == Cause::WorkerTimeout)
        .filter_map(|o| o.request.open_seconds)
        .reduce(f64::min)
        .map(|s| s.floor().max(1.0));
    let (seconds, source) = match (flag, logs, inferred) {
        (Some(t), _, _) => (t, "--timeout"),
        (None, Some(t), _) => (t, "gunicorn's timeout in the logs"),
        (None, None, Some(t)) => (t, "inferred from the WORKER TIMEOUT lines"),
        (None, None, None) => (30.0, "default"),
    };
    Timeout { seconds, source }
}
