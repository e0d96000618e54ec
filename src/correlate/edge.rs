//! The edge's side of the input: which sources are an edge's (a proxy's, a load balancer's, a
//! platform router's) and what their records say users got.
//!
//! nginx's `combined` line and gunicorn's default access line have the same shape, so a line
//! cannot say whose it is: its source does ([`role_of`]). A source is an edge's when the run was
//! told so (`--edge`, `edge = [...]`), or when its name says so (a compose service `nginx-1`, a
//! kubectl container of `ingress-nginx-controller-…`, a file under `/var/log/nginx/`); else it is
//! read as the app's, and the report says that nothing told. Lines only an edge writes (nginx's
//! error log, the Heroku router, ingress-nginx's `upstreaminfo`, ...) are edge records whatever
//! their source.
//!
//! [`EdgeLog`] counts every edge record and keeps the ones users felt as failures (a 5xx, an
//! edge-side timeout, a 400 passed through), with their lines, for `users.rs` to pair with the
//! app's requests once the input has ended.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::records::lossy;
use super::users::route_key;
use super::{rid_hash, Evidence, EVIDENCE_PER_KIND};
use crate::parse::edge::{Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::{Access, Ts};

/// How many failures users saw at the edge are kept with their details (all are counted).
pub const MAX_EDGE_FAILURES: usize = 1000;
/// How many records of each side are kept to measure the clock offset between them.
pub(super) const SKEW_SAMPLES: usize = 512;

/// Whose lines a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    App,
    Edge,
}

/// Why a source was read as an edge's or as the app's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleReason {
    /// Named by `--edge` or `edge = [...]` in the settings file.
    Declared,
    /// Its compose service, kubectl pod or container, or file path names an edge (`nginx`, ...).
    Named,
    /// Nothing named it, and its first access or edge line was one only an edge writes (nginx's
    /// error log, a Heroku router line, ...).
    Lines,
    /// Nothing told: its access lines are read as the app's.
    Default,
}

/// One source (a file, or a pod / compose service within one) and how it was read.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub name: String,
    pub role: Role,
    pub why: RoleReason,
    /// The edge whose records it holds, the first seen.
    pub edge: Option<Edge>,
    /// Lines read as edge records.
    pub edge_lines: u64,
    /// Access lines of the shape both write, read as the app's (only when nothing told).
    pub app_access_lines: u64,
    /// Read as the app's though its input had no app line but access lines: it could as well
    /// be a proxy's.
    pub unclear: bool,
}

/// Words in a source's name that mark an edge's log.
const EDGE_WORDS: &[&str] = &[
    "nginx", "ingress", "caddy", "traefik", "haproxy", "envoy", "proxy", "router", "lb", "alb",
    "elb", "gateway",
];

/// Whether `name` (a path, a compose service, `pod/container`) has an edge's word in it, as a
/// word of its own: `/var/log/nginx/access.log`, `nginx-1`, `ingress-nginx-controller-x/controller`.
fn names_an_edge(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| EDGE_WORDS.iter().any(|e| w.eq_ignore_ascii_case(e)))
}

/// Words of a log file's name that say nothing of whose it is.
const GENERIC_WORDS: &[&str] = &["access", "error", "log", "logs", "json", "gz", "zst", "old"];

/// Whether a file's path names an edge: its file name (`nginx-access.log`), or, when the file
/// name is generic (`access.log`, `error.log.1`), the directory it is in (`/var/log/nginx/`).
/// Directories further up say nothing: `incident-haproxy/app.log` is the app's.
fn file_names_an_edge(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    if names_an_edge(file) {
        return true;
    }
    let generic = file.split(|c: char| !c.is_ascii_alphanumeric()).all(|w| {
        w.is_empty() || w.bytes().all(|b| b.is_ascii_digit()) || GENERIC_WORDS.contains(&w)
    });
    generic && parts.next().is_some_and(names_an_edge)
}

/// Whether a declared edge name matches a source: the input's path as given or its file name,
/// the pod or compose service, the service without its replica number (`nginx` for `nginx-1`),
/// or the kubectl container.
fn declared(entry: &str, file: &str, pod: &str) -> bool {
    let file_name = file.rsplit('/').next().unwrap_or(file);
    let service = pod
        .rsplit_once(['-', '_'])
        .filter(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        .map_or(pod, |(s, _)| s);
    let container = pod.rsplit('/').next().unwrap_or(pod);
    entry == file
        || entry == file_name
        || (!pod.is_empty() && (entry == pod || entry == service || entry == container))
}

/// How the lines of `pod` (empty when the input names none) in input `file` are read, and why.
pub fn role_of(edges: &[String], file: &str, pod: &str) -> (Role, RoleReason) {
    if edges.iter().any(|e| declared(e, file, pod)) {
        return (Role::Edge, RoleReason::Declared);
    }
    let named = if pod.is_empty() {
        file_names_an_edge(file)
    } else {
        names_an_edge(pod)
    };
    if named {
        (Role::Edge, RoleReason::Named)
    } else {
        (Role::App, RoleReason::Default)
    }
}

/// A request that failed for its user at the edge, with the edge's lines about it; `explained`
/// says what happened on the app's side (filled by `users.rs`).
#[derive(Debug, Clone)]
pub struct EdgeFailure {
    pub edge: Edge,
    /// When the edge logged it (most edges: when it ended).
    pub time: Option<Ts>,
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub client: Option<String>,
    /// What the user got; `None` for an error-log line no access line was found for.
    pub status: Option<u16>,
    pub upstream_status: Option<u16>,
    pub upstream_addr: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<Reason>,
    pub detail: Option<String>,
    pub request_seconds: Option<f64>,
    pub upstream_seconds: Option<f64>,
    /// The edge's lines: the access line, then the error line of the same request.
    pub evidence: Vec<Evidence>,
    pub explained: Option<super::users::Explained>,
    pub(super) rid: Option<u64>,
    pub(super) route: u64,
}

/// A record's route (method and path without its query) and when it ended.
#[derive(Debug, Clone, Copy)]
pub(super) struct RouteAt {
    pub(super) route: u64,
    pub(super) at: Ts,
}

/// What the edge's records say, merged across inputs.
#[derive(Debug, Clone, Default)]
pub struct EdgeFacts {
    pub sources: Vec<SourceFacts>,
    /// Access records: the requests users made through the edge.
    pub requests: u64,
    /// Error-log records about the upstream.
    pub upstream_errors: u64,
    /// What users got, by status.
    pub status: BTreeMap<u16, u64>,
    /// Records by edge.
    pub edges: BTreeMap<Edge, u64>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    /// The first [`MAX_EDGE_FAILURES`] failures (all are counted in `failures_total`).
    pub failures: Vec<EdgeFailure>,
    pub failures_total: u64,
    /// Error-log records, until `users.rs` joins them to their access lines.
    pub(super) errors: Vec<EdgeFailure>,
    pub(super) samples: Vec<RouteAt>,
    /// Failures by what happened on the app's side (set by `users.rs`).
    pub causes: BTreeMap<super::users::AppCause, u64>,
    /// How far the edge's clock is ahead of the app's, measured on requests both logged.
    pub skew: Option<super::users::Skew>,
    /// Whether any of the app's own lines were read (gunicorn, Django, its access lines).
    pub app_side: bool,
}

impl EdgeFacts {
    pub fn merge(&mut self, o: EdgeFacts) {
        let EdgeFacts {
            sources,
            requests,
            upstream_errors,
            status,
            edges,
            first,
            last,
            failures,
            failures_total,
            errors,
            samples,
            causes,
            skew,
            app_side,
        } = o;
        self.sources.extend(sources);
        self.requests += requests;
        self.upstream_errors += upstream_errors;
        for (k, n) in status {
            *self.status.entry(k).or_default() += n;
        }
        for (k, n) in edges {
            *self.edges.entry(k).or_default() += n;
        }
        self.first = match (self.first, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(last);
        let room = MAX_EDGE_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(failures.into_iter().take(room));
        self.failures_total += failures_total;
        let room = MAX_EDGE_FAILURES.saturating_sub(self.errors.len());
        self.errors.extend(errors.into_iter().take(room));
        let room = SKEW_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(samples.into_iter().take(room));
        for (k, n) in causes {
            *self.causes.entry(k).or_default() += n;
        }
        self.skew = self.skew.take().or(skew);
        self.app_side |= app_side;
    }

    /// Whether anything was read from an edge.
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.upstream_errors == 0
    }

    /// Sources read as the app's whose lines could as well be a proxy's.
    pub fn unclear(&self) -> impl Iterator<Item = &SourceFacts> {
        self.sources.iter().filter(|s| s.unclear)
    }
}

/// Whether a record is a failure its user felt: a 5xx, a 400 (Django's DisallowedHost passes
/// through as one), or a reason the edge gives other than the user leaving.
fn is_failure(rec: &EdgeRecord<'_>) -> bool {
    rec.status.is_some_and(|s| s >= 500 || s == 400)
        || rec.reason.is_some_and(|r| r != Reason::ClientClosed)
}

fn text(b: &Option<std::borrow::Cow<'_, [u8]>>) -> Option<String> {
    b.as_deref().map(lossy)
}

/// The edge records of a run, as they are read.
#[derive(Debug, Clone, Default)]
pub struct EdgeLog {
    facts: EdgeFacts,
}

impl EdgeLog {
    /// Registers a source; returns its index for the calls below.
    pub fn source(&mut self, name: String, role: Role, why: RoleReason) -> usize {
        self.facts.sources.push(SourceFacts {
            name,
            role,
            why,
            edge: None,
            edge_lines: 0,
            app_access_lines: 0,
            unclear: false,
        });
        self.facts.sources.len() - 1
    }

    /// A line only an edge writes in `source`: a source nothing named is the edge's from its
    /// first such line, unless it already gave the app access lines. Returns its role now.
    pub fn claim(&mut self, source: usize) -> (Role, RoleReason) {
        let s = &mut self.facts.sources[source];
        if s.why == RoleReason::Default && s.app_access_lines == 0 {
            (s.role, s.why) = (Role::Edge, RoleReason::Lines);
        }
        (s.role, s.why)
    }

    /// An access line of the shape both write, in a source read as the app's.
    pub fn app_access_line(&mut self, source: usize) {
        self.facts.sources[source].app_access_lines += 1;
    }

    /// An access line of the shared shape in an edge's source: nginx's `combined`.
    pub fn access_as_edge(&mut self, source: usize, a: &Access<'_>, at: (&Arc<str>, u64, &[u8])) {
        let mut rec = EdgeRecord::new(Edge::Nginx, RecordKind::Access);
        rec.time = a.time;
        rec.client = Some(a.client.into());
        rec.method = Some(a.method.into());
        rec.path = Some(a.uri.into());
        rec.status = Some(a.status);
        if a.status == 499 {
            rec.reason = Some(Reason::ClientClosed);
        }
        self.record(source, &rec, a.time, at);
    }

    /// One edge record of `source`, read from line `at` (file, line number, raw line); `time`
    /// is the line's (its envelope's, else the record's).
    pub fn record(
        &mut self,
        source: usize,
        rec: &EdgeRecord<'_>,
        time: Option<Ts>,
        at: (&Arc<str>, u64, &[u8]),
    ) {
        let f = &mut self.facts;
        let s = &mut f.sources[source];
        s.edge_lines += 1;
        s.edge = s.edge.or(Some(rec.edge));
        *f.edges.entry(rec.edge).or_default() += 1;
        // When the request ended there: what pairs with the app's lines.
        let time = rec.ended().or(time);
        if let Some(t) = time {
            f.first = Some(f.first.map_or(t, |x| x.min(t)));
            f.last = Some(f.last.map_or(t, |x| x.max(t)));
        }
        let method = rec.method.as_deref().unwrap_or(b"");
        let path = rec.path.as_deref().unwrap_or(b"");
        let route = route_key(method, path);
        match rec.kind {
            RecordKind::Access => {
                f.requests += 1;
                if let Some(st) = rec.status {
                    *f.status.entry(st).or_default() += 1;
                }
                if let (Some(t), true) = (time, f.samples.len() < SKEW_SAMPLES) {
                    f.samples.push(RouteAt { route, at: t });
                }
                if !is_failure(rec) {
                    return;
                }
                f.failures_total += 1;
                if f.failures.len() >= MAX_EDGE_FAILURES {
                    return;
                }
                f.failures.push(failure(rec, time, route, at));
            }
            RecordKind::UpstreamError => {
                f.upstream_errors += 1;
                if f.errors.len() < MAX_EDGE_FAILURES {
                    f.errors.push(failure(rec, time, route, at));
                }
            }
        }
    }

    /// Input `source`'s file had no line of the app's but access lines: its access lines, read
    /// as the app's, could be a proxy's.
    pub fn unclear(&mut self, source: usize) {
        let s = &mut self.facts.sources[source];
        s.unclear = s.why == RoleReason::Default && s.app_access_lines > 0;
    }

    /// What was read. `app_side`: whether any of the app's own lines were.
    pub fn finish(mut self, app_side: bool) -> EdgeFacts {
        self.facts.app_side = app_side;
        self.facts
    }
}

fn failure(
    rec: &EdgeRecord<'_>,
    time: Option<Ts>,
    route: u64,
    (file, line, raw): (&Arc<str>, u64, &[u8]),
) -> EdgeFailure {
    let mut evidence = Vec::with_capacity(EVIDENCE_PER_KIND.min(2));
    evidence.push(Evidence::new(file, line, raw));
    EdgeFailure {
        edge: rec.edge,
        time,
        method: text(&rec.method).unwrap_or_default(),
        path: text(&rec.path).unwrap_or_default(),
        host: text(&rec.host),
        client: text(&rec.client),
        status: rec.status,
        upstream_status: rec.upstream_status,
        upstream_addr: text(&rec.upstream_addr),
        request_id: text(&rec.request_id),
        reason: rec.reason,
        detail: text(&rec.detail),
        request_seconds: rec.request_seconds,
        upstream_seconds: rec.upstream_seconds,
        evidence,
        explained: None,
        rid: rec.request_id.as_deref().map(rid_hash),
        route,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_named_as_edges() {
        let none: &[String] = &[];
        for (file, pod) in [
            ("/var/log/nginx/access.log", ""),
            ("/var/log/nginx/error.log.1", ""),
            ("logs/haproxy.log", ""),
            ("compose.log", "nginx-1"),
            ("k.log", "ingress-nginx-controller-7d9f/controller"),
            ("traefik.json", ""),
        ] {
            assert_eq!(role_of(none, file, pod), (Role::Edge, RoleReason::Named));
        }
        for (file, pod) in [
            ("/var/log/gunicorn/app.log", ""),
            ("compose.log", "web-1"),
            ("nginx.log", "web-7d9f/web"),
            ("/var/log/nginxish/app.log", ""),
            ("sample-logs/edge_haproxy_timeout/app.log", ""),
            ("/srv/nginx/conf/access.log", ""),
        ] {
            assert_eq!(role_of(none, file, pod), (Role::App, RoleReason::Default));
        }
    }

    #[test]
    fn sources_declared_as_edges() {
        let edges = vec![
            "front.log".to_string(),
            "proxy".to_string(),
            "lb".to_string(),
        ];
        let declared = (Role::Edge, RoleReason::Declared);
        assert_eq!(role_of(&edges, "/tmp/front.log", ""), declared);
        assert_eq!(role_of(&edges, "c.log", "proxy_1"), declared);
        assert_eq!(role_of(&edges, "c.log", "edge-7d9f/lb"), declared);
        assert_eq!(
            role_of(&edges, "c.log", "web-1"),
            (Role::App, RoleReason::Default)
        );
    }
}
