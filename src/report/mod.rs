//! The owned report (what the JSON says, field for field) and its two renderings.
//!
//! Only this module writes output. Field names here are a published interface: add fields
//! freely; renaming or dropping one needs a new `schema_version` and a README note.

pub mod escape;
pub mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::correlate::{Analysis, Class, ClassStats, Evidence, Orphan};
use crate::diagnose::{Check, Diagnosis, Finding, HostVerdict, Status};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub input: Input,
    pub server: Server,
    pub requests: Requests,
    pub orphans: Vec<Orphan>,
    pub disallowed_hosts: Vec<HostVerdict>,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
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
    pub recognized: u64,
    pub unrecognized: u64,
    pub blank: u64,
    pub unrecognized_samples: Vec<Evidence>,
    /// Inputs that could not be read, with the reason.
    pub errors: Vec<String>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
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
    pub oom_suspected: u64,
    pub worker_exits: u64,
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
    pub probe: u64,
    pub health: u64,
    pub external: u64,
    pub status: BTreeMap<String, u64>,
    pub by_class: BTreeMap<Class, ClassStats>,
}

impl Report {
    pub fn build(
        a: &Analysis,
        d: Diagnosis,
        files: Vec<String>,
        errors: Vec<String>,
        timeout: (f64, String),
    ) -> Report {
        let in_flight: u64 = a.by_class.values().map(|c| c.in_flight).sum();
        let evicted: u64 = a.by_class.values().map(|c| c.evicted).sum();
        let class_total = |c| a.by_class.get(&c).map_or(0, |s: &ClassStats| s.total);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "reqtrail",
                version: env!("CARGO_PKG_VERSION"),
            },
            input: Input {
                files,
                lines: a.lines,
                recognized: a.recognized,
                unrecognized: a.unrecognized,
                blank: a.blank,
                unrecognized_samples: a.unrecognized_samples.clone(),
                errors,
                first_time: a.first_time.map(|t| t.to_rfc3339()),
                last_time: a.last_time.map(|t| t.to_rfc3339()),
            },
            server: Server {
                gunicorn_version: a.gunicorn_versions.first().cloned(),
                worker_class: a.worker_class.clone(),
                listening: a.listening.clone(),
                workers_booted: a.workers_booted,
                worker_timeouts: a.worker_timeouts,
                workers_killed: a.workers_killed,
                kills_after_timeout: a.kills_after_timeout,
                oom_suspected: a.oom_suspected,
                worker_exits: a.worker_exits,
                boot_failed: a.boot_failed,
                timeout_seconds: timeout.0,
                timeout_source: timeout.1,
            },
            requests: Requests {
                total: a.requests,
                answered: a.requests - a.orphans_total - in_flight - evicted,
                orphaned: a.orphans_total,
                in_flight,
                evicted,
                probe: class_total(Class::Probe),
                health: class_total(Class::Health),
                external: class_total(Class::External),
                status: a.status.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
                by_class: a.by_class.clone(),
            },
            orphans: a.orphans.clone(),
            disallowed_hosts: d.hosts,
            checks: d.checks,
            findings: d.findings,
        }
    }

    /// True when at least one check failed: the exit status a deploy gate wants.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table { color: bool },
    Json,
}

/// Writes the report. A closed pipe surfaces as `io::ErrorKind::BrokenPipe` for main to ignore.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Table { color } => table::write(report, color, out)?,
    }
    out.flush()
}
