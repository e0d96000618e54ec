//! Correlated facts → the checklist (Check | Expected | Actual | Status) and the findings.
//!
//! Every verdict needs evidence: a check with nothing to go on is UNKNOWN, never PASS. Findings
//! are ordered most likely cause first and each carries the lines behind it and a concrete fix.
//!
//! One file per check, named after its id: what it expects, how it judges, its findings and its
//! tests (a table of small log excerpts). A finding that belongs to no check has a file of its
//! own. [`REGISTRY`] lists them in report order; [`diagnose`] derives the shared [`Facts`] once
//! and runs it. Adding a check is one new file and one line in the registry; its tests are a
//! table of cases at the file's foot, run by `cases::judge` below.

use crate::correlate::users::AppCause;
use crate::correlate::{host_ip, Analysis, Class, ClassStats, Evidence, Timeout};
use crate::settings::{domain_of, Settings};

mod allowed_hosts;
mod disallowed_host_hidden;
mod edge_timeout_shorter;
mod gunicorn_started;
mod log_lines_recognized;
mod no_external_traffic;
mod no_request_lines;
mod oom_suspected;
mod probes_answered;
mod public_routes_answered;
mod requests_answered;
mod requests_cut_by_shutdown;
mod requests_in_flight;
mod requests_orphaned;
mod server_errors;
mod sigkill_after_timeout;
mod users_answered;
mod users_failed;
mod words;
mod worker_timeout;
mod workers_stable;

pub use words::{app_cause_words, cause_words, edge_label, gunicorn_facts, plural, reason_words};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub expected: String,
    pub actual: String,
    pub status: Status,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fail,
    Warn,
    Info,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    pub fix: String,
    pub evidence: Vec<Evidence>,
}

/// Why a rejected host was rejected, as far as the logs tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

#[derive(Debug, Clone)]
pub struct HostVerdict {
    pub host: String,
    pub count: u64,
    pub add_to_allowed_hosts: String,
    pub rfc_valid: bool,
    pub kind: HostKind,
    pub probe_requests: u64,
    /// What says this is the host the app really serves, if anything does: a rejected name
    /// is scanner noise until shown otherwise, and only a real one is ever recommended for
    /// ALLOWED_HOSTS.
    pub real: Option<RealBecause>,
    pub evidence: Vec<Evidence>,
}

/// Why a rejected host is taken for the app's real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealBecause {
    /// Named by `--public-host`.
    Named,
    /// Health probes send it.
    Probes,
    /// Users asked for it through the edge, which got Django's 400 back.
    Edge,
    /// More than half of the requests that carried a Host carried this one (with no other
    /// host, all of them).
    Most,
}

pub struct Diagnosis {
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    pub hosts: Vec<HostVerdict>,
}

fn class_stats(a: &Analysis, c: Class) -> ClassStats {
    a.traffic.by_class.get(&c).cloned().unwrap_or_default()
}

/// The hosts users asked for through the edge when Django's 400 came back (an edge failure
/// whose app-side cause is a rejected Host).
fn edge_rejected_hosts(a: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &a.edge.failures {
        let rejected = f
            .explained
            .as_ref()
            .is_some_and(|e| e.cause == AppCause::HostRejected);
        if let (true, Some(h)) = (rejected, &f.host) {
            let d = domain_of(h);
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Why a host Django rejected is the app's real one, if the logs say it is: named, sent by
/// probes, asked for by users through the edge, or carried by most requests that had a Host.
fn real_because(
    kind: HostKind,
    names: [&str; 2],
    (count, with_host): (u64, u64),
    edge: &[String],
    named: bool,
) -> Option<RealBecause> {
    match kind {
        HostKind::Public => Some(RealBecause::Named),
        HostKind::Probe => Some(RealBecause::Probes),
        HostKind::Domain if names.iter().any(|n| edge.iter().any(|e| e == n)) => {
            Some(RealBecause::Edge)
        }
        // Hosts named by --public-host are the real ones: another is not, however common.
        HostKind::Domain if !named && count.saturating_mul(2) > with_host => {
            Some(RealBecause::Most)
        }
        _ => None,
    }
}

fn host_verdicts(a: &Analysis, settings: &Settings) -> Vec<HostVerdict> {
    let public: Vec<String> = settings.public_hosts.iter().map(|h| domain_of(h)).collect();
    let edge = edge_rejected_hosts(a);
    // Requests that carried a Host: accepted, rejected (listed or past the cap).
    let with_host: u64 = a.hosts.accepted.values().sum::<u64>()
        + a.hosts.rejected.values().map(|r| r.count).sum::<u64>()
        + a.hosts.rejected_unlisted;
    let mut out: Vec<HostVerdict> = a
        .hosts
        .rejected
        .iter()
        .map(|(host, r)| {
            let add = r.add.clone().unwrap_or_else(|| domain_of(host));
            let kind = if public.contains(&add) || public.contains(&domain_of(host)) {
                HostKind::Public
            } else if r.probe_requests > 0 {
                HostKind::Probe
            } else if !r.rfc_valid {
                HostKind::Invalid
            } else if host_ip(host.as_bytes()).is_some() || host_ip(add.as_bytes()).is_some() {
                HostKind::Ip
            } else {
                HostKind::Domain
            };
            let bare = domain_of(host);
            let names = [add.as_str(), bare.as_str()];
            let real = real_because(kind, names, (r.count, with_host), &edge, !public.is_empty());
            HostVerdict {
                host: host.clone(),
                count: r.count,
                add_to_allowed_hosts: add,
                rfc_valid: r.rfc_valid,
                kind,
                probe_requests: r.probe_requests,
                real,
                evidence: r.evidence.clone(),
            }
        })
        .collect();
    // Most important first, then most frequent; ties by name (BTreeMap order is stable).
    out.sort_by(|x, y| {
        x.kind
            .cmp(&y.kind)
            .then(y.count.cmp(&x.count))
            .then(x.host.cmp(&y.host))
    });
    out
}

/// What several checks judge from, derived once per diagnosis.
pub struct Facts<'a> {
    pub analysis: &'a Analysis,
    /// What the run was told about the deployment (public hosts, health paths, ...).
    pub settings: &'a Settings,
    /// The worker timeout in force, and where it came from.
    pub timeout: Timeout,
    /// Every rejected host with why it was rejected, most important first.
    pub hosts: Vec<HostVerdict>,
    /// Requests of each class: health probes, other health checks, the rest from outside.
    pub probe: ClassStats,
    pub health: ClassStats,
    pub external: ClassStats,
    /// Requests still open when the input ended.
    pub in_flight: u64,
    /// ALLOWED_HOSTS rejections logged, of any host.
    pub total_rejections: u64,
    /// Responses with status 400 from the app, whether or not a rejection was logged for them
    /// (gunicorn's own 400s to requests it could not read are not the app's).
    pub hidden_400s: u64,
}

impl<'a> Facts<'a> {
    pub fn new(a: &'a Analysis, settings: &'a Settings, timeout: Timeout) -> Facts<'a> {
        let hosts = host_verdicts(a, settings);
        let total_rejections: u64 = hosts.iter().map(|h| h.count).sum();
        Facts {
            analysis: a,
            settings,
            timeout,
            hosts,
            probe: class_stats(a, Class::Probe),
            health: class_stats(a, Class::Health),
            external: class_stats(a, Class::External),
            in_flight: a.traffic.by_class.values().map(|c| c.in_flight).sum(),
            total_rejections,
            hidden_400s: a
                .traffic
                .status
                .get(&400)
                .copied()
                .unwrap_or(0)
                .saturating_sub(a.errors.invalid_requests),
        }
    }
}

/// One step of the diagnosis: judges from the facts and pushes its check and/or findings.
pub type Unit = fn(&Facts<'_>, &mut Vec<Check>, &mut Vec<Finding>);

/// The units in report order: checks come out in the order their units push them, and so do
/// findings (most likely cause first).
pub const REGISTRY: &[Unit] = &[
    log_lines_recognized::run,
    users_answered::run,
    users_failed::run,
    edge_timeout_shorter::run,
    no_request_lines::run,
    gunicorn_started::run,
    workers_stable::run,
    probes_answered::run,
    probes_answered::run_external_health,
    public_routes_answered::run,
    requests_answered::run,
    allowed_hosts::run,
    worker_timeout::run,
    sigkill_after_timeout::run,
    oom_suspected::run,
    requests_orphaned::run,
    requests_cut_by_shutdown::run,
    requests_in_flight::run,
    server_errors::run,
    no_external_traffic::run,
    disallowed_host_hidden::run,
];

/// The checklist and findings for one analysis, judged with the run's `settings` and the
/// `timeout` in force: every unit of [`REGISTRY`], in order.
pub fn diagnose(a: &Analysis, settings: &Settings, timeout: Timeout) -> Diagnosis {
    let facts = Facts::new(a, settings, timeout);
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    for unit in REGISTRY {
        unit(&facts, &mut checks, &mut findings);
    }
    Diagnosis {
        checks,
        findings,
        hosts: facts.hosts,
    }
}

/// The runner of the tables of cases at the foot of every check's file: each case's log excerpt
/// goes through the real pipeline (parse, correlate, every unit of the registry), then its
/// check's status and its findings are compared with what the case says.
#[cfg(test)]
pub(crate) mod cases {
    use std::sync::Arc;

    use super::{diagnose, Status};
    use crate::correlate::settle_timeout;
    use crate::settings::Settings;

    /// A log excerpt (one line a string), the status the check must give, and the findings
    /// that must appear.
    pub struct Case {
        pub name: &'static str,
        pub log: &'static [&'static str],
        pub status: Status,
        pub findings: &'static [&'static str],
        pub public_hosts: Vec<String>,
    }

    pub fn case(
        name: &'static str,
        log: &'static [&'static str],
        status: Status,
        findings: &'static [&'static str],
    ) -> Case {
        Case {
            name,
            log,
            status,
            findings,
            public_hosts: Vec::new(),
        }
    }

    impl Case {
        /// As `--public-host HOST`.
        pub fn public_host(mut self, host: &str) -> Case {
            self.public_hosts.push(host.to_string());
            self
        }
    }

    /// Runs every case and asserts that `check` gives the case's status, that every finding the
    /// case names appears, and that none of `owned` (the findings the file under test pushes)
    /// appears unless the case names it. Reports every wrong case at once.
    pub fn judge(check: &str, owned: &[&str], cases: &[Case]) {
        let mut wrong = Vec::new();
        for c in cases {
            let settings = Arc::new(Settings {
                public_hosts: c.public_hosts.clone(),
                ..Settings::default()
            });
            let mut text = c.log.join("\n");
            text.push('\n');
            let a = crate::read::analyze_bytes(c.name, text.as_bytes(), &settings);
            let timeout = settle_timeout(None, a.workers.timeout_from_logs, &a.traffic.orphans);
            let d = diagnose(&a, &settings, timeout);
            match d.checks.iter().find(|k| k.id == check) {
                Some(k) if k.status == c.status => {}
                Some(k) => wrong.push(format!(
                    "{}: {check} is {:?} ({}), expected {:?}",
                    c.name, k.status, k.actual, c.status
                )),
                None => wrong.push(format!("{}: no check {check}", c.name)),
            }
            let found: Vec<&str> = d.findings.iter().map(|f| f.id).collect();
            for id in c.findings {
                if !found.contains(id) {
                    wrong.push(format!("{}: finding {id} missing (got {found:?})", c.name));
                }
            }
            for id in owned {
                if found.contains(id) && !c.findings.contains(id) {
                    wrong.push(format!("{}: finding {id} not expected", c.name));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_fails_and_nothing_passes() {
        let timeout = Timeout {
            seconds: 30.0,
            source: "default",
        };
        let d = diagnose(&Analysis::default(), &Settings::default(), timeout);
        assert!(d.checks.iter().all(|c| c.status != Status::Pass));
        assert_eq!(d.checks[0].status, Status::Fail);
        assert_eq!(d.findings[0].id, "nothing_recognized");
    }
}
