//! The JSON report's schema and the ndjson notices', owned here: one serde type per published
//! object, field for field and in the order the JSON writes them, and conversions from the
//! analysis and diagnosis types they are made from.
//!
//! The internal types (correlate's records, stats' buckets, checks' verdicts) do not derive
//! `Serialize`: a field added or renamed there changes nothing a script reads until it is
//! copied here on purpose. Field names are promises to scripts and dashboards: add fields
//! freely; renaming or dropping one needs a new `schema_version` and a README note
//! (tests/schema.rs pins every key path).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::checks;
use crate::correlate;
use crate::stats;
use crate::time::Ts;

pub mod edge;

/// The whole report: what `--format json` prints, and what every other rendering reads.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub input: Input,
    pub server: Server,
    pub requests: Requests,
    pub orphans: Vec<Orphan>,
    /// Requests still open at the end of the input, younger than the timeout (first 500).
    pub in_flight: Vec<InFlight>,
    pub disallowed_hosts: Vec<HostVerdict>,
    /// Rejections of hosts past the first 1,000 distinct ones: counted, not listed.
    pub disallowed_hosts_unlisted: u64,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    pub latency: LatencyReport,
    pub timeline: TimelineReport,
    /// Per pod (or compose service) when the input names them, or per input read apart
    /// (`--separate`): each correlated on its own.
    pub pods: Vec<PodSummary>,
    /// What users got at the edge (nginx, a load balancer, a platform router), when its log
    /// was read, each failure explained from the app's side.
    pub edge: edge::EdgeReport,
}

/// Which program wrote the report.
#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// What was read: the inputs, how many of their lines were understood, the time they span.
#[derive(Debug, Serialize)]
pub struct Input {
    pub files: Vec<String>,
    pub lines: u64,
    /// Lines left out by --since / --until: recognized + unrecognized + filtered = lines.
    pub filtered: u64,
    pub recognized: u64,
    pub unrecognized: u64,
    pub blank: u64,
    /// Lines read as an edge's records (nginx, a load balancer, a router), in `recognized`.
    pub edge_lines: u64,
    pub unrecognized_samples: Vec<Evidence>,
    /// Inputs that could not be read, with the reason.
    pub errors: Vec<String>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
}

/// What gunicorn said about itself and its workers.
#[derive(Debug, Serialize)]
pub struct Server {
    pub gunicorn_version: Option<String>,
    pub worker_class: Option<String>,
    pub listening: Vec<String>,
    pub workers_booted: u64,
    pub worker_timeouts: u64,
    pub workers_killed: u64,
    pub kills_after_timeout: u64,
    pub kills_during_shutdown: u64,
    pub oom_suspected: u64,
    pub worker_exits: u64,
    /// Workers restarted on purpose after `max_requests` (`Autorestarting worker after current
    /// request.`).
    pub planned_restarts: u64,
    /// Reloads (`Handling signal: hup`), each replacing every worker.
    pub reloads: u64,
    /// Times the server was told to stop (`Handling signal: term`, `int` or `quit`).
    pub stops: u64,
    /// `Error handling request`: exceptions gunicorn caught around a request.
    pub request_errors: u64,
    /// `Invalid request from ip=`: malformed HTTP, mostly scanners.
    pub invalid_requests: u64,
    pub boot_failed: bool,
    pub timeout_seconds: f64,
    pub timeout_source: String,
}

/// The requests counted: how each ended, by class and by status.
#[derive(Debug, Serialize)]
pub struct Requests {
    pub total: u64,
    pub answered: u64,
    pub orphaned: u64,
    pub in_flight: u64,
    /// Requests dropped from tracking while open because too many were open at once.
    pub evicted: u64,
    /// RESPONSE lines whose start is not in the input (it began before the logs do).
    pub unmatched_responses: u64,
    /// Requests whose client left before the answer was written (gunicorn's DEBUG `Ignoring
    /// EPIPE`, `Ignoring connection epipe` or `Ignoring connection reset`): not answered, not
    /// orphaned.
    pub client_gone: u64,
    /// Such lines with no request of their worker in the logs to put them on.
    pub client_gone_unpaired: u64,
    pub probe: u64,
    pub health: u64,
    pub external: u64,
    /// Status code (as text) → responses.
    pub status: BTreeMap<String, u64>,
    pub by_class: BTreeMap<Class, ClassStats>,
    pub pairing: PairingReport,
    /// Every orphan (listed or not) by its cause: these add up to `orphaned`.
    pub orphaned_by_cause: BTreeMap<Cause, u64>,
}

/// How requests were paired with their end, and how sure the pairing is.
#[derive(Debug, Serialize)]
pub struct PairingReport {
    #[serde(flatten)]
    pub counts: Pairing,
    /// `high`: every end matched by request id or thread, or on one-request-at-a-time workers;
    /// `medium`: a few ends (under 1 %) had several open candidates; `low`: more did.
    pub confidence: &'static str,
}

/// Latency per route and the slowest requests.
#[derive(Debug, Serialize)]
pub struct LatencyReport {
    /// `sub-second` when the times came from docker/kubectl/CRI envelopes, else `whole seconds`
    /// (gunicorn's own timestamps): then percentiles are only good to a second.
    pub resolution: &'static str,
    pub measured: u64,
    /// Per route (`METHOD /path/{id}/`), most requests first.
    pub routes: Vec<RouteLatency>,
    /// The upper bounds (ms) each route's `le_counts` counts at or below.
    pub le_ms: Vec<f64>,
    pub slowest: Vec<Slow>,
}

/// One route's latency percentiles, in milliseconds.
#[derive(Debug, Serialize)]
pub struct RouteLatency {
    pub route: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub sum_ms: f64,
    /// Requests at or below each of `latency.le_ms` (cumulative; a histogram bucket is never
    /// split, so a count may take in requests up to 12 % above its bound).
    pub le_counts: Vec<u64>,
}

/// Activity over time, in buckets of one width.
#[derive(Debug, Serialize)]
pub struct TimelineReport {
    pub bucket_seconds: i64,
    pub buckets: Vec<TimelineBucket>,
}

/// One timeline bucket: its start (RFC 3339) and its counts beside it.
#[derive(Debug, Serialize)]
pub struct TimelineBucket {
    pub start: String,
    #[serde(flatten)]
    pub counts: Bucket,
}

/// A log line kept as evidence: where it is and what it says (raw, unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub file: Arc<str>,
    pub line: u64,
    pub text: String,
}

impl From<&correlate::Evidence> for Evidence {
    fn from(e: &correlate::Evidence) -> Evidence {
        Evidence {
            file: e.file.clone(),
            line: e.line,
            text: e.text.clone(),
        }
    }
}

/// Who sent a request: a health probe (kube-probe and the like), a request to a health path,
/// or anyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Probe,
    Health,
    External,
}

impl From<correlate::Class> for Class {
    fn from(c: correlate::Class) -> Class {
        match c {
            correlate::Class::Probe => Class::Probe,
            correlate::Class::Health => Class::Health,
            correlate::Class::External => Class::External,
        }
    }
}

/// Why a request was never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    WorkerTimeout,
    WorkerKilled,
    WorkerExited,
    NeverAnswered,
    OpenAtEnd,
    /// Still open when gunicorn, told to stop, shut down: stopped, not crashed.
    Shutdown,
}

impl From<correlate::Cause> for Cause {
    fn from(c: correlate::Cause) -> Cause {
        match c {
            correlate::Cause::WorkerTimeout => Cause::WorkerTimeout,
            correlate::Cause::WorkerKilled => Cause::WorkerKilled,
            correlate::Cause::WorkerExited => Cause::WorkerExited,
            correlate::Cause::NeverAnswered => Cause::NeverAnswered,
            correlate::Cause::OpenAtEnd => Cause::OpenAtEnd,
            correlate::Cause::Shutdown => Cause::Shutdown,
        }
    }
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
}

impl From<&correlate::Listed> for Listed {
    fn from(l: &correlate::Listed) -> Listed {
        Listed {
            method: l.method.clone(),
            path: l.path.clone(),
            pid: l.pid,
            host: l.host.clone(),
            class: l.class.into(),
            started: l.started.clone(),
            open_seconds: l.open_seconds,
            file: l.file.clone(),
            line: l.line,
        }
    }
}

/// A request still open when the input ended, younger than the timeout (or of unknown age).
pub type InFlight = Listed;

/// A request that was logged but never answered by the app.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    #[serde(flatten)]
    pub request: Listed,
    pub cause: Cause,
    /// The status the client got from gunicorn itself (22+: 500 after a timeout), if logged.
    pub client_status: Option<u16>,
}

impl From<&correlate::Orphan> for Orphan {
    fn from(o: &correlate::Orphan) -> Orphan {
        Orphan {
            request: (&o.request).into(),
            cause: o.cause.into(),
            client_status: o.client_status,
        }
    }
}

/// One pod's (or compose service's) share of the input, when the input names pods.
#[derive(Debug, Clone, Serialize)]
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

impl From<&correlate::PodSummary> for PodSummary {
    fn from(p: &correlate::PodSummary) -> PodSummary {
        PodSummary {
            pod: p.pod.clone(),
            lines: p.lines,
            requests: p.requests,
            orphaned: p.orphaned,
            in_flight: p.in_flight,
            server_errors: p.server_errors,
            worker_timeouts: p.worker_timeouts,
            workers_killed: p.workers_killed,
            disallowed_hosts: p.disallowed_hosts,
            boot_failed: p.boot_failed,
        }
    }
}

/// One class's request counters.
#[derive(Debug, Clone, Serialize)]
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
    /// Its client left before the answer was written (gunicorn's `Ignoring EPIPE` and kin).
    pub client_gone: u64,
}

impl From<&correlate::ClassStats> for ClassStats {
    fn from(c: &correlate::ClassStats) -> ClassStats {
        ClassStats {
            total: c.total,
            ok: c.ok,
            client_error: c.client_error,
            host_rejected: c.host_rejected,
            server_error: c.server_error,
            orphaned: c.orphaned,
            in_flight: c.in_flight,
            evicted: c.evicted,
            unknown_status: c.unknown_status,
            client_gone: c.client_gone,
        }
    }
}

/// How many request ends were matched by which key, and how often it was ambiguous.
#[derive(Debug, Clone, Copy, Serialize)]
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

impl From<&correlate::Pairing> for Pairing {
    fn from(p: &correlate::Pairing) -> Pairing {
        Pairing {
            by_request_id: p.by_request_id,
            by_thread: p.by_thread,
            by_pid_path: p.by_pid_path,
            ambiguous: p.ambiguous,
            access_ambiguous: p.access_ambiguous,
        }
    }
}

/// One slow request, for the "slowest" list.
#[derive(Debug, Clone, Serialize)]
pub struct Slow {
    pub method: String,
    pub path: String,
    pub seconds: f64,
    pub started: String,
    pub status: Option<u16>,
    pub file: Arc<str>,
    pub line: u64,
}

impl From<&stats::Slow> for Slow {
    fn from(s: &stats::Slow) -> Slow {
        Slow {
            method: s.method.clone(),
            path: s.path.clone(),
            seconds: s.seconds,
            started: s.started.clone(),
            status: s.status,
            file: s.file.clone(),
            line: s.line,
        }
    }
}

/// What happened in one time bucket.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bucket {
    pub probe: u64,
    pub health: u64,
    pub external: u64,
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    #[serde(rename = "5xx")]
    pub s5xx: u64,
    pub orphans: u64,
    pub worker_timeouts: u64,
    pub worker_boots: u64,
    pub disallowed_hosts: u64,
}

impl Bucket {
    /// Requests of every class started in the bucket.
    pub fn requests(&self) -> u64 {
        self.probe + self.health + self.external
    }
}

impl From<&stats::Bucket> for Bucket {
    fn from(b: &stats::Bucket) -> Bucket {
        Bucket {
            probe: b.probe,
            health: b.health,
            external: b.external,
            s2xx: b.s2xx,
            s3xx: b.s3xx,
            s4xx: b.s4xx,
            s5xx: b.s5xx,
            orphans: b.orphans,
            worker_timeouts: b.worker_timeouts,
            worker_boots: b.worker_boots,
            disallowed_hosts: b.disallowed_hosts,
        }
    }
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Unknown,
}

impl Status {
    /// The verdict as the JSON writes it: `PASS`, `WARN`, `FAIL`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

impl From<checks::Status> for Status {
    fn from(s: checks::Status) -> Status {
        match s {
            checks::Status::Pass => Status::Pass,
            checks::Status::Warn => Status::Warn,
            checks::Status::Fail => Status::Fail,
            checks::Status::Unknown => Status::Unknown,
        }
    }
}

/// One line of the checklist: what is expected, what the logs show, and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub expected: String,
    pub actual: String,
    pub status: Status,
    pub evidence: Vec<Evidence>,
}

impl From<&checks::Check> for Check {
    fn from(c: &checks::Check) -> Check {
        Check {
            id: c.id,
            title: c.title,
            expected: c.expected.clone(),
            actual: c.actual.clone(),
            status: c.status.into(),
            evidence: converted(&c.evidence),
        }
    }
}

/// How bad a finding is (`info` is shown as a note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Fail,
    Warn,
    Info,
}

impl From<checks::Severity> for Severity {
    fn from(s: checks::Severity) -> Severity {
        match s {
            checks::Severity::Fail => Severity::Fail,
            checks::Severity::Warn => Severity::Warn,
            checks::Severity::Info => Severity::Info,
        }
    }
}

/// A probable cause, with the lines behind it and a concrete fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    pub fix: String,
    pub evidence: Vec<Evidence>,
}

impl From<&checks::Finding> for Finding {
    fn from(f: &checks::Finding) -> Finding {
        Finding {
            id: f.id,
            severity: f.severity.into(),
            title: f.title.clone(),
            detail: f.detail.clone(),
            fix: f.fix.clone(),
            evidence: converted(&f.evidence),
        }
    }
}

/// Why a rejected host was rejected, as far as the logs tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// Named by `--public-host`.
    Public,
    /// Sent by health probes (a pod IP, usually).
    Probe,
    /// A valid DNS name: someone pointed it at this app.
    Domain,
    /// An IP literal: scanners and direct hits.
    Ip,
    /// Not even a valid host name.
    Invalid,
}

impl From<checks::HostKind> for HostKind {
    fn from(k: checks::HostKind) -> HostKind {
        match k {
            checks::HostKind::Public => HostKind::Public,
            checks::HostKind::Probe => HostKind::Probe,
            checks::HostKind::Domain => HostKind::Domain,
            checks::HostKind::Ip => HostKind::Ip,
            checks::HostKind::Invalid => HostKind::Invalid,
        }
    }
}

/// One host Django refused (its evidence stays in the findings).
#[derive(Debug, Clone, Serialize)]
pub struct HostVerdict {
    pub host: String,
    pub count: u64,
    pub add_to_allowed_hosts: String,
    pub rfc_valid: bool,
    pub kind: HostKind,
    pub probe_requests: u64,
}

impl From<&checks::HostVerdict> for HostVerdict {
    fn from(v: &checks::HostVerdict) -> HostVerdict {
        HostVerdict {
            host: v.host.clone(),
            count: v.count,
            add_to_allowed_hosts: v.add_to_allowed_hosts.clone(),
            rfc_valid: v.rfc_valid,
            kind: v.kind.into(),
            probe_requests: v.probe_requests,
        }
    }
}

/// What an alert is about.
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

impl From<correlate::AlertKind> for AlertKind {
    fn from(k: correlate::AlertKind) -> AlertKind {
        match k {
            correlate::AlertKind::RequestOpenTooLong => AlertKind::RequestOpenTooLong,
            correlate::AlertKind::WorkerTimeout => AlertKind::WorkerTimeout,
            correlate::AlertKind::WorkerKilled => AlertKind::WorkerKilled,
            correlate::AlertKind::BootFailure => AlertKind::BootFailure,
            correlate::AlertKind::NewDisallowedHost => AlertKind::NewDisallowedHost,
        }
    }
}

/// One ndjson line while following (`--format ndjson`): a finished request or an alert,
/// tagged by `type`: the schema [`super::ndjson`] writes by hand. It borrows the correlator's
/// notice (its time written out).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice<'a> {
    /// A request reached its end (answered or orphaned), or the input ended with it open.
    Request {
        time: Option<String>,
        pod: Option<&'a str>,
        method: &'a str,
        path: Cow<'a, str>,
        host: Option<Cow<'a, str>>,
        pid: Option<u32>,
        class: Class,
        /// `answered`, `client_gone` (the client left before the answer), `orphaned` or
        /// `in_flight`.
        outcome: &'static str,
        cause: Option<Cause>,
        status: Option<u16>,
        latency_ms: Option<f64>,
        /// How precise `latency_ms` is, when there is one: `whole seconds` (gunicorn's own
        /// timestamps: a latency under a second reads 0) or `sub-second` (an envelope's times).
        resolution: Option<&'static str>,
        file: &'a str,
        line: u64,
    },
    /// Something went wrong just now.
    Alert {
        time: Option<String>,
        pod: Option<&'a str>,
        alert: AlertKind,
        message: &'a str,
        file: &'a str,
        line: u64,
        text: &'a str,
    },
}

impl<'a> From<&'a correlate::Notice> for Notice<'a> {
    fn from(n: &'a correlate::Notice) -> Notice<'a> {
        match n {
            correlate::Notice::Request {
                time,
                pod,
                method,
                logged,
                pid,
                class,
                outcome,
                cause,
                status,
                latency_ms,
                resolution,
                file,
                line,
            } => Notice::Request {
                time: time.map(Ts::to_rfc3339),
                pod: pod.as_deref(),
                method,
                path: String::from_utf8_lossy(logged.path()),
                host: logged.host().map(String::from_utf8_lossy),
                pid: *pid,
                class: (*class).into(),
                outcome,
                cause: cause.map(Cause::from),
                status: *status,
                latency_ms: *latency_ms,
                resolution: *resolution,
                file,
                line: *line,
            },
            correlate::Notice::Alert {
                time,
                pod,
                alert,
                message,
                file,
                line,
                text,
            } => Notice::Alert {
                time: time.map(Ts::to_rfc3339),
                pod: pod.as_deref(),
                alert: (*alert).into(),
                message,
                file,
                line: *line,
                text,
            },
        }
    }
}

/// A list of internal records as their wire objects (evidence, orphans, pods, checks…).
pub(super) fn converted<T, W: for<'b> From<&'b T>>(list: &[T]) -> Vec<W> {
    list.iter().map(W::from).collect()
}

/// Per-class counters keyed by the wire's class.
pub(super) fn by_class(
    m: &BTreeMap<correlate::Class, correlate::ClassStats>,
) -> BTreeMap<Class, ClassStats> {
    m.iter().map(|(c, s)| ((*c).into(), s.into())).collect()
}
