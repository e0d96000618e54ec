//! The report: built once from the analysis and the diagnosis, then written as a table, JSON,
//! Markdown, HTML, metrics (Prometheus, OpenMetrics) or the closing line of an ndjson stream (and, while following, the notices).
//!
//! Only this module writes output. What the JSON says is [`wire`]'s types, field for field: a
//! published interface, converted from the internal types here so that it changes only on
//! purpose. Every rendering reads the same [`Report`].

pub mod edge_section;
pub mod escape;
pub mod html;
pub mod live;
pub mod markdown;
pub mod metrics;
pub mod ndjson;
pub mod output;
pub mod progress;
pub mod serve;
pub mod table;
pub mod wire;

use std::io::{self, Write};

use crate::checks::Diagnosis;
use crate::correlate::{Analysis, Class, ClassStats};
use crate::parse::Ts;
use crate::stats::{Latency, Timeline};
use wire::converted;
pub use wire::{
    Input, LatencyReport, PairingReport, Report, Requests, RouteLatency, Server, TimelineBucket,
    TimelineReport, Tool,
};

/// The JSON's `schema_version`: raised when a field is renamed, dropped or changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The bounds (ms) of the latency histogram the JSON and the metrics publish per route
/// (Prometheus' default buckets, and a minute for requests held to a long timeout).
pub const LE_MS: [f64; 13] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
];

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
            sum_ms: h.sum() as f64 / 1000.0,
            le_counts: LE_MS
                .iter()
                .map(|le| h.count_at_most((le * 1000.0) as u64))
                .collect(),
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
        le_ms: LE_MS.to_vec(),
        slowest: converted(&l.slowest),
    }
}

fn timeline_report(t: &Timeline) -> TimelineReport {
    let (width, series) = t.series(MAX_TIMELINE_POINTS);
    let buckets = series
        .into_iter()
        .map(|(start, counts)| TimelineBucket {
            start: Ts(start.saturating_mul(1_000_000)).to_rfc3339(),
            counts: (&counts).into(),
        })
        .collect();
    TimelineReport {
        bucket_seconds: width,
        buckets,
    }
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
        let client_gone: u64 = a.traffic.by_class.values().map(|c| c.client_gone).sum();
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
                edge_lines: a.input.edge,
                unrecognized_samples: converted(&a.input.unrecognized_samples),
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
                planned_restarts: a.workers.planned_restarts,
                reloads: a.workers.reloads,
                stops: a.workers.stops,
                request_errors: a.errors.request_errors,
                invalid_requests: a.errors.invalid_requests,
                boot_failed: a.workers.boot_failed,
                timeout_seconds: timeout.0,
                timeout_source: timeout.1,
            },
            requests: Requests {
                total: a.traffic.total,
                answered: a.traffic.total
                    - a.traffic.orphans_total
                    - in_flight
                    - evicted
                    - client_gone,
                orphaned: a.traffic.orphans_total,
                in_flight,
                evicted,
                unmatched_responses: a.traffic.unmatched_responses,
                client_gone,
                client_gone_unpaired: a.traffic.client_gone_unpaired,
                probe: class_total(Class::Probe),
                health: class_total(Class::Health),
                external: class_total(Class::External),
                status: a
                    .traffic
                    .status
                    .iter()
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
                by_class: wire::by_class(&a.traffic.by_class),
                pairing: PairingReport {
                    counts: (&a.traffic.pairing).into(),
                    confidence: match a.traffic.pairing.ambiguous {
                        0 => "high",
                        n if n * 100 < a.traffic.total.max(1) => "medium",
                        _ => "low",
                    },
                },
                orphaned_by_cause: a
                    .traffic
                    .orphan_causes
                    .iter()
                    .map(|(c, n)| ((*c).into(), *n))
                    .collect(),
            },
            orphans: converted(&a.traffic.orphans),
            in_flight: converted(&a.traffic.in_flight),
            disallowed_hosts: converted(&d.hosts),
            disallowed_hosts_unlisted: a.hosts.rejected_unlisted,
            checks: converted(&d.checks),
            findings: converted(&d.findings),
            latency: latency_report(&a.time.latency),
            pods: converted(&a.pods),
            timeline: timeline_report(&a.time.timeline),
            edge: (&a.edge).into(),
        }
    }

    /// True when at least one check failed: the exit status a deploy gate wants.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == wire::Status::Fail)
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

/// A latency (`v` ms) as precise as the times behind it (`resolution`, the JSON's
/// `latency.resolution`): gunicorn's whole-second timestamps tell nothing under a second
/// (`<1 s`, never `0.0 ms`) and no fraction above it (`3 s`).
pub(crate) fn latency_text(v: f64, resolution: &str) -> String {
    if resolution == "sub-second" {
        ms(v)
    } else if v < 1000.0 {
        "<1 s".into()
    } else {
        format!("{:.0} s", v / 1000.0)
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
    /// The run's metrics, in the Prometheus text format or OpenMetrics.
    Metrics(metrics::Flavor),
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
        Format::Metrics(flavor) => metrics::write(report, flavor, out)?,
    }
    out.flush()
}
