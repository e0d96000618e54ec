//! The report as metrics (`--format openmetrics`, `--format prometheus`): what Prometheus,
//! node_exporter's textfile collector and Grafana read, so a team can graph and page on what
//! reqtrail found without glue. Built from the [`Report`] only, as every rendering is.
//!
//! Names follow Prometheus' conventions: a `reqtrail_` prefix, `_total` on counters, seconds.
//! The two flavours differ only where the formats do: OpenMetrics names a counter's family
//! without `_total` and ends with `# EOF`; the Prometheus text format (0.0.4, the textfile
//! collector's) names it with `_total`.
//!
//! No label takes unbounded values from the log. Hosts: the public ones and the
//! [`TOP_HOSTS`] most rejected others, the rest summed as `host="other"`; routes: the
//! [`TOP_ROUTES`] busiest route templates, the rest as `route="other"`; pods: the [`TOP_PODS`]
//! with the most lines, the rest as `pod="other"`. Log-borne label values are shown as the
//! table shows them (`escape::for_terminal`: control and bidi characters as `\x1b`, `\n` as
//! `\x0a`), then escaped as the format asks (`\\`, `\"`).
//!
//! Live (`--metrics-listen`), the values named past a cap are kept from one publication to the
//! next ([`Named`]): a value named once stays named, and once a cap is full the rest stay in
//! `other`, so every series' counter only grows, `other`'s too. The end of a live run can then
//! name other values than a one-shot run of the same input, which ranks them afresh; every
//! family's sum is the same.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, Write};

use super::escape::for_terminal;
use super::wire::{Cause, Class, HostKind, HostVerdict, Status};
use super::Report;

/// Rejected hosts other than the public ones given their own series (most rejections first).
pub const TOP_HOSTS: usize = 10;
/// Routes given their own duration histogram (most requests first).
pub const TOP_ROUTES: usize = 20;
/// Pods (or compose services) given their own series (most lines first).
pub const TOP_PODS: usize = 50;
/// The label value everything past a cap is summed under.
pub const OTHER: &str = "other";

/// Which exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The Prometheus text format 0.0.4 (node_exporter's textfile collector reads it).
    Prometheus,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`), ending with `# EOF`.
    OpenMetrics,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Writes families and samples in the chosen flavour.
struct Exposition<'a> {
    out: &'a mut dyn Write,
    flavor: Flavor,
}

impl Exposition<'_> {
    /// `# HELP` and `# TYPE` of family `name` (a counter's without its `_total`).
    fn family(&mut self, name: &str, kind: Kind, help: &str) -> io::Result<()> {
        let (kind, suffix) = match kind {
            Kind::Counter => ("counter", "_total"),
            Kind::Gauge => ("gauge", ""),
            Kind::Histogram => ("histogram", ""),
        };
        let suffix = if self.flavor == Flavor::Prometheus {
            suffix
        } else {
            ""
        };
        let mut help = help.replace('\\', "\\\\").replace('\n', "\\n");
        if self.flavor == Flavor::OpenMetrics {
            help = help.replace('"', "\\\"");
        }
        writeln!(self.out, "# HELP {name}{suffix} {help}")?;
        writeln!(self.out, "# TYPE {name}{suffix} {kind}")
    }

    /// One sample: `name` (with its suffix: `_total`, `_bucket`...), labels, value.
    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Display,
    ) -> io::Result<()> {
        write!(self.out, "{name}")?;
        for (k, (key, v)) in labels.iter().enumerate() {
            let sep = if k == 0 { '{' } else { ',' };
            write!(self.out, "{sep}{key}=\"{}\"", label_value(v))?;
        }
        if !labels.is_empty() {
            write!(self.out, "}}")?;
        }
        writeln!(self.out, " {value}")
    }

    /// A family of one unlabelled counter.
    fn counter(&mut self, name: &str, help: &str, value: u64) -> io::Result<()> {
        self.family(name, Kind::Counter, help)?;
        self.sample(&format!("{name}_total"), &[], value)
    }

    /// A family of one unlabelled gauge.
    fn gauge(&mut self, name: &str, help: &str, value: impl Display) -> io::Result<()> {
        self.family(name, Kind::Gauge, help)?;
        self.sample(name, &[], value)
    }

    /// A counter family with one label, a sample per value.
    fn counters<'k>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (&'k str, u64)>,
    ) -> io::Result<()> {
        self.family(name, Kind::Counter, help)?;
        let total = format!("{name}_total");
        for (v, n) in samples {
            self.sample(&total, &[(label, v)], n)?;
        }
        Ok(())
    }
}

/// A label value from the log, terminal-safe and escaped for the exposition format.
pub fn label_value(v: &str) -> String {
    for_terminal(v).replace('\\', "\\\\").replace('"', "\\\"")
}

/// A float as a sample value: never NaN or infinite in what reqtrail measures, but safe if so.
fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// Which log-borne label values (hosts, routes, pods) past their caps have series of their own.
/// Ranked afresh each time, a value climbing out of `other` would take its count along, and
/// `other`'s counter would go down; so one `Named` kept across publications keeps every value
/// it named, and adds one only while its cap has room (a value is folded into `other` only
/// once the cap is full, and then for good). A fresh one names the top ones of the report.
#[derive(Debug, Default)]
pub struct Named {
    hosts: Vec<String>,
    routes: Vec<String>,
    pods: Vec<String>,
}

/// Adds to `kept`, while it holds fewer than `cap`, the `ranked` values it lacks, best first.
fn keep<'a>(kept: &mut Vec<String>, ranked: impl IntoIterator<Item = &'a str>, cap: usize) {
    for v in ranked {
        if kept.len() >= cap {
            return;
        }
        if !named(kept, v) {
            kept.push(v.to_string());
        }
    }
}

/// Whether `kept` names `v`.
fn named(kept: &[String], v: &str) -> bool {
    kept.iter().any(|k| k == v)
}

/// Writes the report's metrics in `flavor`, the top hosts, routes and pods named.
pub fn write(report: &Report, flavor: Flavor, out: &mut dyn Write) -> io::Result<()> {
    write_named(report, flavor, out, &mut Named::default())
}

/// [`write`], naming hosts, routes and pods as `names` did before (and adding to it while a cap
/// has room): the live exporter's, whose counters must only grow from one scrape to the next.
pub fn write_named(
    report: &Report,
    flavor: Flavor,
    out: &mut dyn Write,
    names: &mut Named,
) -> io::Result<()> {
    let mut x = Exposition { out, flavor };
    x.family(
        "reqtrail_build_info",
        Kind::Gauge,
        "The reqtrail that wrote these metrics (always 1).",
    )?;
    x.sample(
        "reqtrail_build_info",
        &[("version", report.tool.version)],
        1,
    )?;
    input(report, &mut x)?;
    requests(report, &mut x)?;
    open_requests(report, &mut x)?;
    workers(report, &mut x)?;
    hosts(report, &mut x, &mut names.hosts)?;
    checks(report, &mut x)?;
    durations(report, &mut x, &mut names.routes)?;
    edge(report, &mut x)?;
    pods(report, &mut x, &mut names.pods)?;
    if flavor == Flavor::OpenMetrics {
        writeln!(x.out, "# EOF")?;
    }
    Ok(())
}

fn input(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    let i = &r.input;
    x.counter("reqtrail_lines_read", "Log lines read.", i.lines)?;
    x.counter(
        "reqtrail_lines_recognized",
        "Log lines reqtrail understood (the edge's included).",
        i.recognized,
    )?;
    x.counter(
        "reqtrail_lines_unrecognized",
        "Log lines reqtrail did not understand.",
        i.unrecognized,
    )?;
    if let Some(t) = i.last_time.as_deref().and_then(epoch_seconds) {
        x.gauge(
            "reqtrail_last_line_timestamp_seconds",
            "The time of the last line read that had one (Unix seconds).",
            float(t),
        )?;
    }
    x.gauge(
        "reqtrail_timeout_seconds",
        "gunicorn's worker timeout as the logs show it (else --timeout, else 30).",
        float(r.server.timeout_seconds),
    )
}

/// An RFC 3339 time the report wrote, as Unix seconds.
fn epoch_seconds(t: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    Some(t.timestamp_micros() as f64 / 1e6)
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Probe => "probe",
        Class::Health => "health",
        Class::External => "external",
    }
}

fn cause_name(c: Cause) -> &'static str {
    match c {
        Cause::WorkerTimeout => "worker_timeout",
        Cause::WorkerKilled => "worker_killed",
        Cause::WorkerExited => "worker_exited",
        Cause::NeverAnswered => "never_answered",
        Cause::OpenAtEnd => "open_at_end",
        Cause::Shutdown => "shutdown",
    }
}

const CLASSES: [Class; 3] = [Class::Probe, Class::Health, Class::External];
const CAUSES: [Cause; 6] = [
    Cause::WorkerTimeout,
    Cause::WorkerKilled,
    Cause::WorkerExited,
    Cause::NeverAnswered,
    Cause::OpenAtEnd,
    Cause::Shutdown,
];

fn requests(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    let q = &r.requests;
    let by_class = |c: Class| q.by_class.get(&c);
    x.counters(
        "reqtrail_requests",
        "Requests that reached the app, by class: probe (kube-probe and the like), health (a \
         health path), external.",
        "class",
        CLASSES
            .iter()
            .map(|c| (class_name(*c), by_class(*c).map_or(0, |s| s.total))),
    )?;
    x.family(
        "reqtrail_requests_answered",
        Kind::Counter,
        "Requests the app answered, by class and status class (2xx_3xx, 4xx with \
         DisallowedHost rejections, 5xx, unknown: no line gave the status).",
    )?;
    for c in CLASSES {
        let s = by_class(c);
        let get = |f: fn(&super::wire::ClassStats) -> u64| s.map_or(0, f);
        for (sc, n) in [
            ("2xx_3xx", get(|s| s.ok)),
            ("4xx", get(|s| s.client_error)),
            ("5xx", get(|s| s.server_error)),
            ("unknown", get(|s| s.unknown_status)),
        ] {
            let labels = [("class", class_name(c)), ("status_class", sc)];
            x.sample("reqtrail_requests_answered_total", &labels, n)?;
        }
    }
    x.family(
        "reqtrail_requests_failed",
        Kind::Counter,
        "Requests that failed whoever sent them, by class and why: server_error (answered \
         5xx), host_rejected (refused for their Host), orphaned (never answered).",
    )?;
    for c in CLASSES {
        let s = by_class(c);
        let get = |f: fn(&super::wire::ClassStats) -> u64| s.map_or(0, f);
        for (why, n) in [
            ("server_error", get(|s| s.server_error)),
            ("host_rejected", get(|s| s.host_rejected)),
            ("orphaned", get(|s| s.orphaned)),
        ] {
            let labels = [("class", class_name(c)), ("why", why)];
            x.sample("reqtrail_requests_failed_total", &labels, n)?;
        }
    }
    x.counters(
        "reqtrail_requests_orphaned",
        "Requests never answered, by cause (worker_timeout, worker_killed, worker_exited, \
         never_answered, open_at_end: still open past the timeout when the input ended, which a \
         later run may find answered; shutdown: still open when gunicorn, told to stop, shut \
         down).",
        "cause",
        CAUSES.iter().map(|c| {
            let n = q.orphaned_by_cause.get(c).copied().unwrap_or(0);
            (cause_name(*c), n)
        }),
    )?;
    x.counter(
        "reqtrail_requests_evicted",
        "Requests dropped from tracking while open because too many were open at once.",
        q.evicted,
    )?;
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in &q.status {
        let class = format!("{}xx", code.chars().next().unwrap_or('0'));
        *status.entry(class).or_default() += n;
    }
    for sc in ["2xx", "3xx", "4xx", "5xx"] {
        status.entry(sc.into()).or_default();
    }
    x.counters(
        "reqtrail_responses",
        "Responses by status class, every class of request (gunicorn's own 500 after a \
         worker timeout included).",
        "status_class",
        status.iter().map(|(k, n)| (k.as_str(), *n)),
    )
}

fn open_requests(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    let q = &r.requests;
    let past_timeout = q.orphaned_by_cause.get(&Cause::OpenAtEnd).copied();
    x.gauge(
        "reqtrail_requests_in_flight",
        "Requests open and not judged: at the end of the input, those younger than the worker \
         timeout (older ones are orphans, cause open_at_end); live, every request open now, \
         whatever its age (judged when the input ends). reqtrail_requests_open counts them all.",
        q.in_flight,
    )?;
    x.gauge(
        "reqtrail_requests_open",
        "Requests open at the end of the input (or now, live), whatever their age.",
        q.in_flight + past_timeout.unwrap_or(0),
    )?;
    let oldest = r
        .in_flight
        .iter()
        .chain(
            r.orphans
                .iter()
                .filter(|o| o.cause == Cause::OpenAtEnd)
                .map(|o| &o.request),
        )
        .filter_map(|l| l.open_seconds)
        .fold(0.0, f64::max);
    x.gauge(
        "reqtrail_request_oldest_open_seconds",
        "How long the oldest open request has been open (0 when none is; of the first 500 \
         listed).",
        float(oldest),
    )
}

fn workers(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    let s = &r.server;
    x.counters(
        "reqtrail_worker_events",
        "gunicorn worker events by kind: booted, timeout (WORKER TIMEOUT), killed (by a \
         signal), exited (non-zero), planned_restart (after max_requests).",
        "kind",
        [
            ("booted", s.workers_booted),
            ("timeout", s.worker_timeouts),
            ("killed", s.workers_killed),
            ("exited", s.worker_exits),
            ("planned_restart", s.planned_restarts),
        ],
    )?;
    x.counter(
        "reqtrail_server_reloads",
        "Reloads gunicorn was asked for (Handling signal: hup), each replacing every worker.",
        s.reloads,
    )?;
    x.counter(
        "reqtrail_server_stops",
        "Times gunicorn was told to stop (Handling signal: term, int or quit).",
        s.stops,
    )?;
    x.counter(
        "reqtrail_worker_kills_planned",
        "Worker kills during a shutdown or restart gunicorn was asked for (planned).",
        s.kills_during_shutdown,
    )?;
    x.counter(
        "reqtrail_worker_kills_after_timeout",
        "Worker kills that followed a WORKER TIMEOUT.",
        s.kills_after_timeout,
    )?;
    x.counter(
        "reqtrail_oom_suspected",
        "Workers killed with no timeout before it while gunicorn said 'Perhaps out of memory?'.",
        s.oom_suspected,
    )?;
    x.gauge(
        "reqtrail_boot_failed",
        "1 when gunicorn or a worker failed to boot, else 0.",
        u8::from(s.boot_failed),
    )
}

fn host_kind(k: HostKind) -> &'static str {
    match k {
        HostKind::Public => "public",
        HostKind::Probe => "probe",
        HostKind::Domain => "domain",
        HostKind::Ip => "ip",
        HostKind::Invalid => "invalid",
    }
}

fn hosts(r: &Report, x: &mut Exposition<'_>, kept: &mut Vec<String>) -> io::Result<()> {
    x.family(
        "reqtrail_disallowed_host_rejections",
        Kind::Counter,
        "Requests Django refused for their Host (DisallowedHost), by host and kind (public, \
         probe, domain, ip, invalid): the public hosts and the 10 most rejected others; the \
         rest summed as host=\"other\", kind=\"other\".",
    )?;
    let mut listed: Vec<_> = r.disallowed_hosts.iter().collect();
    // Public hosts first, then by count: a stable choice of who gets a series.
    listed.sort_by(|a, b| {
        (b.kind == HostKind::Public)
            .cmp(&(a.kind == HostKind::Public))
            .then(b.count.cmp(&a.count))
            .then(a.host.cmp(&b.host))
    });
    let others = listed.iter().filter(|h| h.kind != HostKind::Public);
    keep(kept, others.map(|h| h.host.as_str()), TOP_HOSTS);
    let shown = |h: &HostVerdict| h.kind == HostKind::Public || named(kept, &h.host);
    let name = "reqtrail_disallowed_host_rejections_total";
    for h in listed.iter().filter(|h| shown(h)) {
        x.sample(
            name,
            &[("host", &h.host), ("kind", host_kind(h.kind))],
            h.count,
        )?;
    }
    let folded = listed.iter().filter(|h| !shown(h)).map(|h| h.count);
    let rest: u64 = folded.sum::<u64>() + r.disallowed_hosts_unlisted;
    x.sample(name, &[("host", OTHER), ("kind", OTHER)], rest)
}

fn status_value(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Unknown => 3,
    }
}

fn checks(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    x.family(
        "reqtrail_check_status",
        Kind::Gauge,
        "Each check's verdict: 0 pass, 1 warn, 2 fail, 3 unknown.",
    )?;
    for c in &r.checks {
        x.sample(
            "reqtrail_check_status",
            &[("check", c.id)],
            status_value(c.status),
        )?;
    }
    Ok(())
}

/// One route's (or the folded routes') histogram: cumulative counts at `le_ms`, count, sum.
struct RouteHist<'a> {
    route: &'a str,
    le_counts: Vec<u64>,
    count: u64,
    sum_ms: f64,
}

impl RouteHist<'_> {
    fn add(&mut self, counts: &[u64], count: u64, sum_ms: f64) {
        for (a, b) in self.le_counts.iter_mut().zip(counts) {
            *a += b;
        }
        self.count += count;
        self.sum_ms += sum_ms;
    }
}

fn durations(r: &Report, x: &mut Exposition<'_>, kept: &mut Vec<String>) -> io::Result<()> {
    let l = &r.latency;
    x.family(
        "reqtrail_request_duration_seconds",
        Kind::Histogram,
        "Request duration per route template (the 20 busiest; the rest as route=\"other\"), \
         from the start line to the end line; a bucket may take in requests up to 12 % above \
         its bound, and whole-second logs give whole seconds.",
    )?;
    let zero = || vec![0; l.le_ms.len()];
    let mut hists: Vec<RouteHist<'_>> = Vec::new();
    let mut other = RouteHist {
        route: OTHER,
        le_counts: zero(),
        count: 0,
        sum_ms: 0.0,
    };
    // `routes` is sorted by count already, most first.
    let templates = l.routes.iter().map(|r| r.route.as_str());
    keep(
        kept,
        templates.filter(|r| *r != crate::stats::OTHER_ROUTES),
        TOP_ROUTES,
    );
    for route in &l.routes {
        let h = if named(kept, &route.route) {
            hists.push(RouteHist {
                route: &route.route,
                le_counts: zero(),
                count: 0,
                sum_ms: 0.0,
            });
            hists.last_mut().expect("just pushed")
        } else {
            &mut other
        };
        h.add(&route.le_counts, route.count, route.sum_ms);
    }
    if other.count > 0 {
        hists.push(other);
    }
    for h in &hists {
        for (le, n) in l.le_ms.iter().zip(&h.le_counts) {
            let le = format!("{:?}", le / 1000.0);
            let labels = [("route", h.route), ("le", le.as_str())];
            x.sample("reqtrail_request_duration_seconds_bucket", &labels, n)?;
        }
        let labels = [("route", h.route), ("le", "+Inf")];
        x.sample("reqtrail_request_duration_seconds_bucket", &labels, h.count)?;
        let labels = [("route", h.route)];
        x.sample("reqtrail_request_duration_seconds_count", &labels, h.count)?;
        let sum = float(h.sum_ms / 1000.0);
        x.sample("reqtrail_request_duration_seconds_sum", &labels, sum)?;
    }
    Ok(())
}

fn edge(r: &Report, x: &mut Exposition<'_>) -> io::Result<()> {
    let e = &r.edge;
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    for sc in ["2xx", "3xx", "4xx", "5xx"] {
        status.insert(sc.into(), 0);
    }
    for (code, n) in &e.status {
        let class = format!("{}xx", code.chars().next().unwrap_or('0'));
        *status.entry(class).or_default() += n;
    }
    x.counters(
        "reqtrail_edge_requests",
        "Requests users made through the edge (nginx, HAProxy, a load balancer), by the status \
         class they got.",
        "status_class",
        status.iter().map(|(k, n)| (k.as_str(), *n)),
    )?;
    let listed: u64 = e.causes.values().sum();
    let unlisted = e.failures_total.saturating_sub(listed);
    x.counters(
        "reqtrail_edge_failures",
        "Failures users felt at the edge (5xx, edge-side timeouts), by what happened on the \
         app's side; past the first 1,000 as cause=\"unlisted\".",
        "cause",
        e.causes
            .iter()
            .map(|(k, n)| (*k, *n))
            .chain((unlisted > 0).then_some(("unlisted", unlisted))),
    )
}

/// Per-pod series, for input that names pods (kubectl --prefix, compose): the busiest
/// [`TOP_PODS`] by lines, the rest summed as `pod="other"`.
fn pods(r: &Report, x: &mut Exposition<'_>, kept: &mut Vec<String>) -> io::Result<()> {
    if r.pods.is_empty() {
        return Ok(());
    }
    let mut pods: Vec<_> = r.pods.iter().collect();
    pods.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.pod.cmp(&b.pod)));
    keep(kept, pods.iter().map(|p| p.pod.as_str()), TOP_PODS);
    let (pods, folded): (Vec<_>, Vec<_>) = pods.into_iter().partition(|p| named(kept, &p.pod));
    type Field = fn(&super::wire::PodSummary) -> u64;
    let families: [(&str, &str, Field); 6] = [
        ("reqtrail_pod_lines", "Log lines read, per pod.", |p| {
            p.lines
        }),
        ("reqtrail_pod_requests", "Requests, per pod.", |p| {
            p.requests
        }),
        (
            "reqtrail_pod_orphaned",
            "Requests never answered, per pod.",
            |p| p.orphaned,
        ),
        (
            "reqtrail_pod_server_errors",
            "5xx responses, per pod.",
            |p| p.server_errors,
        ),
        (
            "reqtrail_pod_worker_timeouts",
            "WORKER TIMEOUTs, per pod.",
            |p| p.worker_timeouts,
        ),
        (
            "reqtrail_pod_disallowed_host_rejections",
            "DisallowedHost rejections, per pod.",
            |p| p.disallowed_hosts,
        ),
    ];
    for (name, help, field) in families {
        let rest: u64 = folded.iter().map(|p| field(p)).sum();
        let others = (!folded.is_empty()).then_some((OTHER, rest));
        x.counters(
            name,
            help,
            "pod",
            pods.iter()
                .map(|p| (p.pod.as_str(), field(p)))
                .chain(others),
        )?;
    }
    x.family(
        "reqtrail_pod_boot_failed",
        Kind::Gauge,
        "1 when the pod's gunicorn or a worker failed to boot, else 0 (pod=\"other\": any).",
    )?;
    for p in &pods {
        x.sample(
            "reqtrail_pod_boot_failed",
            &[("pod", &p.pod)],
            u8::from(p.boot_failed),
        )?;
    }
    if !folded.is_empty() {
        let any = folded.iter().any(|p| p.boot_failed);
        x.sample("reqtrail_pod_boot_failed", &[("pod", OTHER)], u8::from(any))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_terminal_safe() {
        assert_eq!(label_value("app.example.com"), "app.example.com");
        assert_eq!(label_value("a\"b"), "a\\\"b");
        assert_eq!(label_value("a\\b"), "a\\\\b");
        assert_eq!(label_value("a\nb"), "a\\\\x0ab");
        assert_eq!(label_value("\x1b[2J"), "\\\\x1b[2J");
    }

    #[test]
    fn counter_families_are_named_as_each_flavor_wants() {
        for (flavor, type_line) in [
            (Flavor::Prometheus, "# TYPE reqtrail_x_total counter\n"),
            (Flavor::OpenMetrics, "# TYPE reqtrail_x counter\n"),
        ] {
            let mut out = Vec::new();
            let mut x = Exposition {
                out: &mut out,
                flavor,
            };
            x.counter("reqtrail_x", "An x.\nTwo lines \\ one.", 3)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(type_line), "{text}");
            assert!(text.contains(" An x.\\nTwo lines \\\\ one.\n"), "{text}");
            assert!(text.ends_with("\nreqtrail_x_total 3\n"), "{text}");
        }
    }

    #[test]
    fn values_named_once_stay_named_and_a_full_cap_takes_no_more() {
        let mut kept = Vec::new();
        keep(&mut kept, ["b", "a"], 3);
        assert_eq!(kept, ["b", "a"]);
        // "c" climbs above both: it joins while there is room, "d" finds none.
        keep(&mut kept, ["c", "a", "b", "d"], 3);
        assert_eq!(kept, ["b", "a", "c"]);
        keep(&mut kept, ["d", "e", "c"], 3);
        assert_eq!(kept, ["b", "a", "c"]);
        assert!(named(&kept, "a") && !named(&kept, "d"));
    }

    #[test]
    fn floats_are_written_as_the_format_reads_them() {
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(30.0), "30");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
