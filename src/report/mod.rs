//! The owned report (what the JSON says, field for field) and its two renderings.
//!
//! Only this module writes output. Field names here are a published interface: add fields
//! freely; renaming or dropping one needs a new `schema_version` and a README note.

pub mod escape;
pub mod html;
pub mod live;
pub mod markdown;
pub mod output;
pub mod progress;
pub mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::checks::{Check, Diagnosis, Finding, HostVerdict, Status};
use crate::correlate::{
    Analysis, Class, ClassStats, Evidence, InFlight, Orphan, Pairing, PodSummary,
};
use crate::parse::Ts;
use crate::stats::{Bucket, Latency, Slow, Timeline};

pub const SCHEMA_VERSION: u32 = 1;

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
    /// Per pod (or compose service) when the input names them: each correlated on its own.
    pub pods: Vec<PodSummary>,
}

#[derive(Debug, Serialize)]
pub struct LatencyReport {
    /// `sub-second` when the times came from docker/kubectl/CRI envelopes, else `whole seconds`
    /// (gunicorn's own timestamps): then percentiles are only good to a second.
    pub resolution: &'static str,
    pub measured: u64,
    /// Per route (`METHOD /path/{id}/`), most requests first.
    pub routes: Vec<RouteLatency>,
    pub slowest: Vec<Slow>,
}

#[derive(Debug, Serialize)]
pub struct RouteLatency {
    pub route: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct TimelineReport {
    pub bucket_seconds: i64,
    pub buckets: Vec<TimelineBucket>,
}

#[derive(Debug, Serialize)]
pub struct TimelineBucket {
    pub start: String,
    #[serde(flatten)]
    pub counts: Bucket,
}

/// Most points a timeline is drawn with; longer series are merged into wider buckets.
pub const MAX_TIMELINE_POINTS: usize = 1440;

fn latency_report(l: &Latency) -> LatencyReport {
    let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
    let mut routes: Vec<RouteLatency> = l
        .routes
        .iter()
        .map(|(route, h)| RouteLatency {
            route: route.clone(),
            count: h.count(),
            p50_ms: ms(h.quantile(0.50)),
            p95_ms: ms(h.quantile(0.95)),
            p99_ms: ms(h.quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: ms(h.mean()),
        })
        .collect();
    routes.sort_by(|a, b| b.count.cmp(&a.count).then(a.route.cmp(&b.route)));
    LatencyReport {
        resolution: if l.measured > 0 && l.sub_second == l.measured {
            "sub-second"
        } else {
            "whole seconds"
        },
        measured: l.measured,
        routes,
        slowest: l.slowest.clone(),
    }
}

fn timeline_report(t: &Timeline) -> TimelineReport {
    let (width, series) = t.series(MAX_TIMELINE_POINTS);
    let buckets = series
        .into_iter()
        .map(|(start, counts)| TimelineBucket {
            start: Ts(start.saturating_mul(1_000_000)).to_rfc3339(),
            counts,
        })
        .collect();
    TimelineReport {
        bucket_seconds: width,
        buckets,
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Input {
    pub files: Vec<String>,
    pub lines: u64,
    /// Lines left out by --since / --until: recognized + unrecognized + filtered = lines.
    pub filtered: u64,
    pub recognized: u64,
    pub unrecognized: u64,
    pub blank: u64,
    pub unrecognized_samples: Vec<Evidence>,
    /// Inputs that could not be read, with the reason.
    pub errors: Vec<String>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
}

impl Input {
    /// `, N outside --since / --until` when the window left lines out, for the count of lines.
    pub fn outside_window(&self) -> String {
        if self.filtered == 0 {
            return String::new();
        }
        format!(", {} outside --since / --until", self.filtered)
    }
}

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
    /// `Error handling request`: exceptions gunicorn caught around a request.
    pub request_errors: u64,
    /// `Invalid request from ip=`: malformed HTTP, mostly scanners.
    pub invalid_requests: u64,
    pub boot_failed: bool,
    pub timeout_seconds: f64,
    pub timeout_source: String,
}

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
    pub probe: u64,
    pub health: u64,
    pub external: u64,
    pub status: BTreeMap<String, u64>,
    pub by_class: BTreeMap<Class, ClassStats>,
    pub pairing: PairingReport,
}

#[derive(Debug, Serialize)]
pub struct PairingReport {
    #[serde(flatten)]
    pub counts: Pairing,
    /// `high`: every end matched by request id or thread, or on one-request-at-a-time workers;
    /// `medium`: a few ends (under 1 %) had several open candidates; `low`: more did.
    pub confidence: &'static str,
}

impl Report {
    pub fn build(
        a: &Analysis,
        d: Diagnosis,
        files: Vec<String>,
        errors: Vec<String>,
        timeout: (f64, String),
    ) -> Report {
        let in_flight: u64 = a.traffic.by_class.values().map(|c| c.in_flight).sum();
        let evicted: u64 = a.traffic.by_class.values().map(|c| c.evicted).sum();
        let class_total = |c| {
            a.traffic
                .by_class
                .get(&c)
                .map_or(0, |s: &ClassStats| s.total)
        };
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "reqtrail",
                version: env!("CARGO_PKG_VERSION"),
            },
            input: Input {
                files,
                lines: a.input.lines,
                filtered: a.input.filtered,
                recognized: a.input.recognized,
                unrecognized: a.input.unrecognized,
                blank: a.input.blank,
                unrecognized_samples: a.input.unrecognized_samples.clone(),
                errors,
                first_time: a.time.first.map(|t| t.to_rfc3339()),
                last_time: a.time.last.map(|t| t.to_rfc3339()),
            },
            server: Server {
                gunicorn_version: a.workers.gunicorn_versions.first().cloned(),
                worker_class: a.workers.class.clone(),
                listening: a.workers.listening.clone(),
                workers_booted: a.workers.booted,
                worker_timeouts: a.workers.timeouts,
                workers_killed: a.workers.killed,
                kills_after_timeout: a.workers.kills_after_timeout,
                kills_during_shutdown: a.workers.kills_during_shutdown,
                oom_suspected: a.workers.oom_suspected,
                worker_exits: a.workers.exits,
                request_errors: a.errors.request_errors,
                invalid_requests: a.errors.invalid_requests,
                boot_failed: a.workers.boot_failed,
                timeout_seconds: timeout.0,
                timeout_source: timeout.1,
            },
            requests: Requests {
                total: a.traffic.total,
                answered: a.traffic.total - a.traffic.orphans_total - in_flight - evicted,
                orphaned: a.traffic.orphans_total,
                in_flight,
                evicted,
                unmatched_responses: a.traffic.unmatched_responses,
                probe: class_total(Class::Probe),
                health: class_total(Class::Health),
                external: class_total(Class::External),
                status: a
                    .traffic
                    .status
                    .iter()
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
                by_class: a.traffic.by_class.clone(),
                pairing: PairingReport {
                    counts: a.traffic.pairing,
                    confidence: match a.traffic.pairing.ambiguous {
                        0 => "high",
                        n if n * 100 < a.traffic.total.max(1) => "medium",
                        _ => "low",
                    },
                },
            },
            orphans: a.traffic.orphans.clone(),
            in_flight: a.traffic.in_flight.clone(),
            disallowed_hosts: d.hosts,
            disallowed_hosts_unlisted: a.hosts.rejected_unlisted,
            checks: d.checks,
            findings: d.findings,
            latency: latency_report(&a.time.latency),
            pods: a.pods.clone(),
            timeline: timeline_report(&a.time.timeline),
        }
    }

    /// True when at least one check failed: the exit status a deploy gate wants.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

impl Server {
    /// The server facts every report opens with (raw text).
    pub fn facts(&self) -> Vec<String> {
        crate::checks::gunicorn_facts(
            self.gunicorn_version.as_deref(),
            self.worker_class.as_deref(),
            &self.listening,
        )
    }
}

/// A duration in milliseconds as people read it: `12.3 ms`, `2.50 s`.
fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.1} ms")
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `terminal`: stdout is a terminal (adds the sparklines).
    Table {
        color: bool,
        terminal: bool,
    },
    Json,
    Markdown,
    Html,
    /// The closing report line of an ndjson stream.
    Ndjson,
}

/// Writes the report. A closed pipe surfaces as `io::ErrorKind::BrokenPipe` for main to ignore.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Table { color, terminal } => table::write(report, color, terminal, out)?,
        Format::Markdown => markdown::write(report, out)?,
        Format::Html => html::write(report, out)?,
        Format::Ndjson => live::write_report_line(report, out)?,
    }
    out.flush()
}
