//! The JSON report's `edge` object: what users got at the edge (proxy, load balancer, platform
//! router), which sources were read as the edge's and why, and each failure with what happened
//! on the app's side. Converted from `correlate::edge` and `correlate::users`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Evidence;
use crate::correlate::edge::{self as facts, EdgeFacts, Role, RoleReason};
use crate::correlate::users::{AppCause, PairedBy};
use crate::parse::edge::{Edge, Reason};

/// What the edge logged.
#[derive(Debug, Serialize)]
pub struct EdgeReport {
    /// Whether any edge record was read (every other field is empty or zero without one).
    pub present: bool,
    /// When any edge record was read, or a source's access lines could be a proxy's: every
    /// source that had an access or edge line, and whose it was taken to be.
    pub sources: Vec<Source>,
    /// Requests users made through the edge (its access records).
    pub requests: u64,
    /// Of them, answered below 500.
    pub answered: u64,
    /// Of them, answered 500 or above.
    pub failed: u64,
    /// The edge's error-log records about the upstream.
    pub upstream_errors: u64,
    /// What users got, by status.
    pub status: BTreeMap<String, u64>,
    /// Records by edge.
    pub edges: BTreeMap<&'static str, u64>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// Whether any of the app's own lines were read; without them causes are unknown.
    pub app_side: bool,
    /// How far the edge's clock reads ahead of the app's, measured on requests both logged.
    pub clock_skew: Option<ClockSkew>,
    /// Failures users felt (5xx, edge-side timeouts, 400s), all counted.
    pub failures_total: u64,
    /// The listed failures by app-side cause.
    pub causes: BTreeMap<&'static str, u64>,
    /// The first 1,000 failures, each explained from the app's side.
    pub failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
pub struct Source {
    pub name: String,
    /// `edge` or `app`.
    pub role: &'static str,
    /// `declared` (--edge, edge = [...]), `named` (its name says nginx, ingress, ...), `lines`
    /// (its first access or edge line was one only an edge writes), or `default` (nothing
    /// told: its access lines were read as the app's).
    pub why: &'static str,
    pub edge: Option<&'static str>,
    pub edge_lines: u64,
    pub app_access_lines: u64,
    /// Read as the app's with nothing but access lines in its input: could be a proxy's.
    pub unclear: bool,
}

#[derive(Debug, Serialize)]
pub struct ClockSkew {
    pub seconds: f64,
    pub pairs: usize,
}

/// One failure at the edge and its app-side cause.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub time: Option<String>,
    pub edge: &'static str,
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub client: Option<String>,
    /// What the user got; null for an error-log line with no access line found.
    pub status: Option<u16>,
    pub upstream_status: Option<u16>,
    pub upstream_addr: Option<String>,
    pub request_id: Option<String>,
    /// The edge's reason, typed (`upstream_timeout`, `connection_refused`, ...).
    pub reason: Option<&'static str>,
    /// The edge's own words (nginx's error text, a Heroku code, HAProxy's termination state).
    pub detail: Option<String>,
    pub request_seconds: Option<f64>,
    pub upstream_seconds: Option<f64>,
    pub evidence: Vec<Evidence>,
    /// What happened on the app's side (see the README's list).
    pub cause: Option<&'static str>,
    /// `request_id`, `route` (method, path and time), or null when no app request was found.
    pub paired_by: Option<&'static str>,
    pub pid: Option<u32>,
    pub app_status: Option<u16>,
    pub app_seconds: Option<f64>,
    pub edge_waited_seconds: Option<f64>,
    /// The worker was killed with no timeout before it and gunicorn said `Perhaps out of memory?`.
    pub oom_suspected: bool,
    pub app_evidence: Vec<Evidence>,
}

pub fn edge_name(e: Edge) -> &'static str {
    match e {
        Edge::Nginx => "nginx",
        Edge::IngressNginx => "ingress_nginx",
        Edge::HerokuRouter => "heroku_router",
        Edge::Caddy => "caddy",
        Edge::Traefik => "traefik",
        Edge::HaProxy => "haproxy",
        Edge::AwsAlb => "aws_alb",
        Edge::GcpLoadBalancer => "gcp_load_balancer",
    }
}

/// The edge a JSON `edge` value names.
pub fn edge_of(name: &str) -> Option<Edge> {
    Edge::ALL.into_iter().find(|e| edge_name(*e) == name)
}

/// The reason a JSON `reason` value names.
pub fn reason_of(name: &str) -> Option<Reason> {
    Reason::ALL.into_iter().find(|r| reason_name(*r) == name)
}

pub fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::UpstreamTimeout => "upstream_timeout",
        Reason::UpstreamClosed => "upstream_closed",
        Reason::UpstreamReset => "upstream_reset",
        Reason::ConnectionRefused => "connection_refused",
        Reason::NoUpstream => "no_upstream",
        Reason::BootTimeout => "boot_timeout",
        Reason::ClientClosed => "client_closed",
        Reason::Other => "other",
    }
}

pub fn cause_name(c: AppCause) -> &'static str {
    match c {
        AppCause::WorkerTimeout => "worker_timeout",
        AppCause::WorkerKilled => "worker_killed",
        AppCause::Shutdown => "shutdown",
        AppCause::NeverAnswered => "never_answered",
        AppCause::StillOpen => "still_open",
        AppCause::AppError => "app_error",
        AppCause::HostRejected => "host_rejected",
        AppCause::AnsweredAfterEdgeGaveUp => "answered_after_edge_gave_up",
        AppCause::AppAnswered => "app_answered",
        AppCause::NoWorkerAccepting => "no_worker_accepting",
        AppCause::NoReadyEndpoint => "no_ready_endpoint",
        AppCause::NeverReachedApp => "never_reached_app",
        AppCause::AppSideMissing => "app_side_missing",
    }
}

fn evidence(e: &[crate::correlate::Evidence]) -> Vec<Evidence> {
    e.iter().map(Evidence::from).collect()
}

impl From<&facts::SourceFacts> for Source {
    fn from(s: &facts::SourceFacts) -> Source {
        Source {
            name: s.name.clone(),
            role: match s.role {
                Role::App => "app",
                Role::Edge => "edge",
            },
            why: match s.why {
                RoleReason::Declared => "declared",
                RoleReason::Named => "named",
                RoleReason::Lines => "lines",
                RoleReason::Default => "default",
            },
            edge: s.edge.map(edge_name),
            edge_lines: s.edge_lines,
            app_access_lines: s.app_access_lines,
            unclear: s.unclear,
        }
    }
}

impl From<&facts::EdgeFailure> for Failure {
    fn from(f: &facts::EdgeFailure) -> Failure {
        let x = f.explained.as_ref();
        Failure {
            time: f.time.map(|t| t.to_rfc3339()),
            edge: edge_name(f.edge),
            method: f.method.clone(),
            path: f.path.clone(),
            host: f.host.clone(),
            client: f.client.clone(),
            status: f.status,
            upstream_status: f.upstream_status,
            upstream_addr: f.upstream_addr.clone(),
            request_id: f.request_id.clone(),
            reason: f.reason.map(reason_name),
            detail: f.detail.clone(),
            request_seconds: f.request_seconds,
            upstream_seconds: f.upstream_seconds,
            evidence: evidence(&f.evidence),
            cause: x.map(|x| cause_name(x.cause)),
            paired_by: x.and_then(|x| x.paired_by).map(|p| match p {
                PairedBy::RequestId => "request_id",
                PairedBy::Route => "route",
            }),
            pid: x.and_then(|x| x.pid),
            app_status: x.and_then(|x| x.app_status),
            app_seconds: x.and_then(|x| x.app_seconds),
            edge_waited_seconds: x.and_then(|x| x.edge_waited),
            oom_suspected: x.is_some_and(|x| x.oom_suspected),
            app_evidence: x.map_or_else(Vec::new, |x| evidence(&x.evidence)),
        }
    }
}

impl From<&EdgeFacts> for EdgeReport {
    fn from(e: &EdgeFacts) -> EdgeReport {
        let count = |below: bool| -> u64 {
            e.status
                .iter()
                .filter(|(s, _)| (**s < 500) == below)
                .map(|(_, n)| n)
                .sum()
        };
        EdgeReport {
            present: !e.is_empty(),
            sources: if e.is_empty() && e.unclear().next().is_none() {
                Vec::new()
            } else {
                e.sources.iter().map(Source::from).collect()
            },
            requests: e.requests,
            answered: count(true),
            failed: count(false),
            upstream_errors: e.upstream_errors,
            status: e.status.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            edges: e.edges.iter().map(|(k, n)| (edge_name(*k), *n)).collect(),
            first_time: e.first.map(|t| t.to_rfc3339()),
            last_time: e.last.map(|t| t.to_rfc3339()),
            app_side: e.app_side,
            clock_skew: e.skew.map(|s| ClockSkew {
                seconds: s.seconds,
                pairs: s.pairs,
            }),
            failures_total: e.failures_total,
            causes: e.causes.iter().map(|(k, n)| (cause_name(*k), *n)).collect(),
            failures: e.failures.iter().map(Failure::from).collect(),
        }
    }
}
