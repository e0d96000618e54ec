//! Correlated facts → the checklist (Check | Expected | Actual | Status) and the findings.
//!
//! Every verdict needs evidence: a check with nothing to go on is UNKNOWN, never PASS. Findings
//! are ordered most likely cause first and each carries the lines behind it and a concrete fix.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::correlate::{host_ip, Analysis, Cause, Class, ClassStats, Evidence, Orphan};

mod words;

pub use words::{cause_words, domain_of, gunicorn_facts};
use words::{closest_layout, first_evidence, fmt_secs, plural, requests_line};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub expected: String,
    pub actual: String,
    pub status: Status,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Fail,
    Warn,
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    pub fix: String,
    pub evidence: Vec<Evidence>,
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

#[derive(Debug, Clone, Serialize)]
pub struct HostVerdict {
    pub host: String,
    pub count: u64,
    pub add_to_allowed_hosts: String,
    pub rfc_valid: bool,
    pub kind: HostKind,
    pub probe_requests: u64,
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
}

pub struct Diagnosis {
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    pub hosts: Vec<HostVerdict>,
}

/// What the user told us about the deployment.
pub struct Context<'a> {
    pub public_hosts: &'a [String],
    /// The worker timeout in force (flag, logs, or the default) and where it came from.
    pub timeout: f64,
    pub timeout_source: &'a str,
}

fn class_stats(a: &Analysis, c: Class) -> ClassStats {
    a.by_class.get(&c).cloned().unwrap_or_default()
}

fn host_verdicts(a: &Analysis, ctx: &Context<'_>) -> Vec<HostVerdict> {
    let public: Vec<String> = ctx.public_hosts.iter().map(|h| domain_of(h)).collect();
    let mut out: Vec<HostVerdict> = a
        .rejected_hosts
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
            HostVerdict {
                host: host.clone(),
                count: r.count,
                add_to_allowed_hosts: add,
                rfc_valid: r.rfc_valid,
                kind,
                probe_requests: r.probe_requests,
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

pub fn diagnose(a: &Analysis, ctx: &Context<'_>) -> Diagnosis {
    let hosts = host_verdicts(a, ctx);
    let probe = class_stats(a, Class::Probe);
    let health = class_stats(a, Class::Health);
    let external = class_stats(a, Class::External);
    let mut checks = Vec::new();
    let mut findings = Vec::new();

    // log_lines_recognized: of the lines in the --since / --until window (all, without one).
    let content = (a.lines - a.blank).saturating_sub(a.filtered);
    let recognized = a.recognized - a.blank;
    // Every line was left out by the window: nothing in it to judge, not a log unrecognised.
    let outside = a.lines > 0 && a.filtered > 0 && content == 0;
    checks.push(Check {
        id: "log_lines_recognized",
        title: "Log lines recognised",
        expected: "gunicorn / Django lines in the input".into(),
        actual: if a.lines == 0 {
            "the input is empty".into()
        } else if outside {
            format!("all {} lines are outside --since / --until", a.lines)
        } else if a.filtered > 0 {
            format!(
                "{recognized} of {content} non-blank lines recognised ({} outside --since / --until)",
                a.filtered
            )
        } else {
            format!("{recognized} of {content} non-blank lines recognised")
        },
        status: if recognized == 0 {
            Status::Fail
        } else if recognized * 2 < content {
            Status::Warn
        } else {
            Status::Pass
        },
        evidence: a.unrecognized_samples.clone(),
    });
    if recognized == 0 || recognized * 2 < content {
        let texts: Vec<&str> = a
            .unrecognized_samples
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        let (closest, hint) = closest_layout(&texts);
        findings.push(Finding {
            id: "nothing_recognized",
            severity: if recognized == 0 { Severity::Fail } else { Severity::Warn },
            title: if a.lines == 0 {
                "The input is empty: there is nothing to diagnose".into()
            } else if outside {
                "No line falls within --since / --until: there is nothing to diagnose".into()
            } else if recognized == 0 {
                format!("None of the {} lines looks like gunicorn or Django output", a.lines)
            } else {
                format!("Only {recognized} of {content} lines were recognised: the checks see a part of the logs")
            },
            detail: if a.lines == 0 {
                "reqtrail reads gunicorn's error and access logs and Django's request logging; the input held no line at all.".into()
            } else if outside {
                format!("The window left out all {} lines of the input.", a.lines)
            } else {
                format!("The unrecognised lines look closest to {closest}.")
            },
            fix: if a.lines == 0 {
                "Pass the container's whole output (`docker logs web 2>&1 | reqtrail`, or `kubectl logs POD --timestamps | reqtrail`), with gunicorn's `--access-logfile -` on.".into()
            } else if outside {
                "Widen the window (times are UTC unless they carry an offset; an age like 2h counts back from now), or pass logs that cover it.".into()
            } else {
                hint
            },
            evidence: a.unrecognized_samples.clone(),
        });
    }

    if a.app_request_lines == 0 && !a.unknown_request_messages.is_empty() {
        let texts: Vec<&str> = a
            .unknown_request_messages
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        let (closest, hint) = closest_layout(&texts);
        findings.push(Finding {
            id: "no_request_lines",
            severity: Severity::Warn,
            title: "No request-logging line was recognised, but some lines talk about requests".into(),
            detail: format!("Lines in a known layout carry messages reqtrail does not read; they look like {closest}."),
            fix: hint,
            evidence: a.unknown_request_messages.clone(),
        });
    }

    // gunicorn_started
    let boot_problem = a.boot_failed || a.boot_errors > 0;
    let mut started = gunicorn_facts(
        a.gunicorn_versions.first().map(String::as_str),
        a.worker_class.as_deref(),
        &a.listening,
    );
    started.push(format!(
        "{} booted",
        plural(a.workers_booted, "worker", "workers")
    ));
    let alive = !a.gunicorn_versions.is_empty() || !a.listening.is_empty() || a.workers_booted > 0;
    let boot_exc = a.boot_exceptions.first().cloned();
    checks.push(Check {
        id: "gunicorn_started",
        title: "Gunicorn starts",
        expected: "master listening, workers booted".into(),
        actual: if a.boot_failed {
            format!(
                "workers failed to boot{}; gunicorn shut down",
                boot_exc
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )
        } else if a.boot_errors > 0 {
            format!(
                "{}; {} failed to boot",
                started.join(", "),
                plural(a.boot_errors, "worker", "workers")
            )
        } else if alive {
            started.join(", ")
        } else {
            "no gunicorn start-up lines (the logs may begin after start-up)".into()
        },
        status: if a.boot_failed {
            Status::Fail
        } else if a.boot_errors > 0 {
            Status::Warn
        } else if alive {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: if boot_problem {
            a.boot_evidence.clone()
        } else {
            a.start_evidence.clone()
        },
    });
    if boot_problem {
        let about_hosts = boot_exc
            .as_deref()
            .is_some_and(|e| e.contains("ALLOWED_HOSTS"));
        findings.push(Finding {
            id: "boot_failure",
            severity: if a.boot_failed { Severity::Fail } else { Severity::Warn },
            title: format!(
                "Workers fail to boot: the app raises while loading{}",
                boot_exc.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            detail: "gunicorn starts a worker, the worker imports the Django app, the import raises, and gunicorn gives up (`Reason: Worker failed to boot.`). No request can be served.".into(),
            fix: if about_hosts {
                "Set ALLOWED_HOSTS in the app's environment to the public host name(s) before it starts, e.g. `ALLOWED_HOSTS=app.example.com` (comma-separated), then redeploy.".into()
            } else {
                "Import the app once by hand in the same image and environment (`python -c \"import yourproject.wsgi\"`) to see the full error, fix it, redeploy.".into()
            },
            evidence: a.boot_evidence.clone(),
        });
    }

    // workers_stable
    let troubles = a.worker_timeouts + a.workers_killed;
    let mut stable = Vec::new();
    if a.worker_timeouts > 0 {
        stable.push(plural(
            a.worker_timeouts,
            "worker timeout",
            "worker timeouts",
        ));
    }
    if a.workers_killed > 0 {
        let mut k = plural(a.workers_killed, "worker killed", "workers killed");
        if a.kills_after_timeout > 0 {
            k.push_str(&format!(" ({} after a timeout)", a.kills_after_timeout));
        }
        stable.push(k);
    }
    if a.oom_suspected > 0 {
        stable.push(format!("{} suspected out of memory", a.oom_suspected));
    }
    if a.kills_during_shutdown > 0 {
        stable.push(format!(
            "{} killed while stopping (a request outlived graceful_timeout)",
            plural(a.kills_during_shutdown, "worker", "workers")
        ));
    }
    if a.worker_exits > 0 {
        stable.push(plural(
            a.worker_exits,
            "non-zero worker exit",
            "non-zero worker exits",
        ));
    }
    checks.push(Check {
        id: "workers_stable",
        title: "Workers stay up",
        expected: "no timeouts, kills or crashes".into(),
        actual: if stable.is_empty() {
            if a.workers_booted > 0 || a.requests > 0 {
                "no timeouts, kills or crashes".into()
            } else {
                "no worker lines in the logs".into()
            }
        } else {
            stable.join(", ")
        },
        status: if troubles > 0 || a.oom_suspected > 0 || a.boot_failed {
            Status::Fail
        } else if a.worker_exits > 0 || a.boot_errors > 0 || a.kills_during_shutdown > 0 {
            Status::Warn
        } else if a.workers_booted > 0 || a.requests > 0 {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: first_evidence(
            [
                &a.timeout_evidence,
                &a.kill_evidence,
                &a.oom_evidence,
                &a.boot_evidence,
            ],
            3,
        ),
    });

    // probes_answered, external_health_answered
    let answered_check =
        |id, title, what: &str, s: &ClassStats, bad_is_fail_only_if_none_ok: bool| {
            let bad = s.client_error + s.server_error + s.orphaned;
            let status = if s.total == 0 || (s.ok == 0 && bad == 0) {
                Status::Unknown
            } else if bad == 0 {
                Status::Pass
            } else if s.ok == 0 || !bad_is_fail_only_if_none_ok {
                Status::Fail
            } else {
                Status::Warn
            };
            Check {
                id,
                title,
                expected: format!("{what}s answered 2xx/3xx"),
                actual: if s.total == 0 {
                    format!("no {what} requests in the logs")
                } else {
                    requests_line(s, what)
                },
                status,
                evidence: Vec::new(),
            }
        };
    checks.push(answered_check(
        "probes_answered",
        "Health probes answered",
        "probe",
        &probe,
        false,
    ));
    checks.push(answered_check(
        "external_health_answered",
        "Health endpoint answered (non-probe)",
        "health check",
        &health,
        true,
    ));

    // public_routes_answered
    let good = external.ok + external.client_error - external.host_rejected;
    let bad = external.host_rejected + external.server_error + external.orphaned;
    checks.push(Check {
        id: "public_routes_answered",
        title: "Public routes answered",
        expected: "external requests reach the app and are answered below 500".into(),
        actual: if external.total == 0 {
            "no external request reached the app".into()
        } else {
            requests_line(&external, "external request")
        },
        status: if external.total == 0 {
            if a.boot_failed {
                Status::Unknown
            } else {
                Status::Warn
            }
        } else if bad > 0 && (good == 0 || bad * 2 >= external.total) {
            Status::Fail
        } else if bad > 0 {
            Status::Warn
        } else if good > 0 {
            Status::Pass
        } else {
            Status::Unknown
        },
        evidence: Vec::new(),
    });

    // requests_answered
    let evicted: u64 = a.by_class.values().map(|c| c.evicted).sum();
    let in_flight: u64 = a.by_class.values().map(|c| c.in_flight).sum();
    let orphan_detail: Vec<String> = a
        .orphan_causes
        .iter()
        .map(|(c, n)| format!("{n} {}", cause_words(*c)))
        .collect();
    checks.push(Check {
        id: "requests_answered",
        title: "Every logged request answered",
        expected: "each INCOMING REQUEST has its RESPONSE".into(),
        actual: if a.requests == 0 {
            "no requests in the logs".into()
        } else if a.orphans_total == 0 && in_flight > 0 {
            format!(
                "{} finished; {in_flight} still open when the input ended",
                a.requests - in_flight - evicted
            )
        } else if a.orphans_total == 0 && evicted > 0 {
            format!(
                "{evicted} of {} still open when too many were open at once (not followed further)",
                a.requests
            )
        } else if a.orphans_total == 0 {
            format!("all {} requests finished", a.requests)
        } else {
            format!(
                "{} of {} never answered: {}",
                a.orphans_total,
                a.requests,
                orphan_detail.join(", ")
            )
        },
        status: if a.requests == 0 {
            Status::Unknown
        } else if a.orphans_total > 0 {
            Status::Fail
        } else if evicted > 0 || in_flight > 0 {
            Status::Warn
        } else {
            Status::Pass
        },
        evidence: a
            .orphans
            .iter()
            .take(3)
            .map(|o| o.request.start_evidence.clone())
            .collect(),
    });

    // allowed_hosts
    let rejected_real: Vec<&HostVerdict> = hosts
        .iter()
        .filter(|h| {
            matches!(h.kind, HostKind::Public | HostKind::Probe)
                || (h.kind == HostKind::Domain && ctx.public_hosts.is_empty())
        })
        .collect();
    let other_domains: Vec<&HostVerdict> = hosts
        .iter()
        .filter(|h| h.kind == HostKind::Domain && !ctx.public_hosts.is_empty())
        .collect();
    let noise: u64 = hosts
        .iter()
        .filter(|h| matches!(h.kind, HostKind::Ip | HostKind::Invalid))
        .map(|h| h.count)
        .sum();
    let total_rejections: u64 = hosts.iter().map(|h| h.count).sum();
    let hidden_400s = a.status.get(&400).copied().unwrap_or(0);
    let describe = |hs: &[&HostVerdict]| {
        let mut text = hs
            .iter()
            .take(8)
            .map(|h| format!("{} ×{}", h.host, h.count))
            .collect::<Vec<_>>()
            .join(", ");
        if hs.len() > 8 {
            text.push_str(&format!(" and {} more hosts", hs.len() - 8));
        }
        text
    };
    let noise_hosts: Vec<&HostVerdict> = hosts
        .iter()
        .filter(|h| matches!(h.kind, HostKind::Ip | HostKind::Invalid))
        .collect();
    let noise_note = if noise > 0 && noise_hosts.len() < hosts.len() {
        format!("; also scanner noise: {}", describe(&noise_hosts))
    } else {
        String::new()
    };
    let (status, actual) = if !rejected_real.is_empty() {
        (
            Status::Fail,
            format!("rejected: {}{noise_note}", describe(&rejected_real)),
        )
    } else if !other_domains.is_empty() {
        (
            Status::Warn,
            format!(
                "other names rejected: {}{noise_note}",
                describe(&other_domains)
            ),
        )
    } else if a.rejected_unlisted > 0 {
        (
            Status::Warn,
            format!(
                "{} rejections of hosts past the first 1,000 distinct ones were not looked at",
                a.rejected_unlisted
            ),
        )
    } else if total_rejections > 0 {
        let s = if a.accepted_hosts.is_empty() {
            Status::Unknown
        } else {
            Status::Pass
        };
        (
            s,
            format!("only scanner noise rejected: {}", describe(&noise_hosts)),
        )
    } else if hidden_400s > 0 && a.accepted_hosts.is_empty() {
        (
            Status::Warn,
            format!(
                "no DisallowedHost lines, but {} got 400 and none was accepted",
                plural(hidden_400s, "request", "requests")
            ),
        )
    } else if !a.accepted_hosts.is_empty() {
        let names: Vec<String> = a.accepted_hosts.keys().take(5).cloned().collect();
        (
            Status::Pass,
            format!("hosts accepted: {}", names.join(", ")),
        )
    } else {
        (
            Status::Unknown,
            "no request shows which hosts Django accepts".into(),
        )
    };
    checks.push(Check {
        id: "allowed_hosts",
        title: "ALLOWED_HOSTS accepts the public host",
        expected: if ctx.public_hosts.is_empty() {
            "no real host name rejected".into()
        } else {
            format!("{} accepted", ctx.public_hosts.join(", "))
        },
        actual,
        status,
        evidence: first_evidence(hosts.iter().map(|h| &h.evidence), 3),
    });

    let mut value: Vec<String> = Vec::new();
    let mut push = |d: String| {
        if !d.is_empty() && !value.contains(&d) {
            value.push(d);
        }
    };
    // The hosts to add (most rejected first), the public ones, and those already accepted.
    for h in hosts
        .iter()
        .filter(|h| matches!(h.kind, HostKind::Public | HostKind::Domain))
        .take(10)
    {
        if h.kind == HostKind::Public || ctx.public_hosts.is_empty() {
            push(h.add_to_allowed_hosts.clone());
        }
    }
    for p in ctx.public_hosts {
        push(domain_of(p));
    }
    for h in a.accepted_hosts.keys().take(20) {
        push(domain_of(h));
    }
    let public_rejected: Vec<&HostVerdict> = hosts
        .iter()
        .filter(|h| {
            h.kind == HostKind::Public
                || (h.kind == HostKind::Domain && ctx.public_hosts.is_empty())
        })
        .collect();
    if !public_rejected.is_empty() {
        let n: u64 = public_rejected.iter().map(|h| h.count).sum();
        let mut names: Vec<&str> = public_rejected
            .iter()
            .take(5)
            .map(|h| h.add_to_allowed_hosts.as_str())
            .collect();
        let more = format!("{} more", public_rejected.len().saturating_sub(5));
        if public_rejected.len() > 5 {
            names.push(&more);
        }
        findings.push(Finding {
            id: "public_host_rejected",
            severity: Severity::Fail,
            title: format!(
                "Django rejects {} ({} answered 400 by ALLOWED_HOSTS)",
                names.join(", "),
                plural(n, "request", "requests")
            ),
            detail: format!(
                "Requests for {} reach the app and Django refuses the Host header (DisallowedHost → 400) because ALLOWED_HOSTS lacks it.{}",
                names.join(", "),
                if ctx.public_hosts.is_empty() {
                    " (Name your real host with --public-host to tell it apart from names scanners send.)"
                } else {
                    ""
                }
            ),
            fix: format!(
                "Set ALLOWED_HOSTS={} (plus any other host you serve), restart, and check that `curl -H 'Host: {}' http://POD:PORT/` no longer answers 400.",
                value.join(","),
                names[0]
            ),
            evidence: first_evidence(public_rejected.iter().map(|h| &h.evidence), 3),
        });
    }
    let probe_rejected: Vec<&HostVerdict> =
        hosts.iter().filter(|h| h.kind == HostKind::Probe).collect();
    if !probe_rejected.is_empty() {
        let header = ctx
            .public_hosts
            .first()
            .map(|h| domain_of(h))
            .unwrap_or_else(|| "localhost".into());
        findings.push(Finding {
            id: "probe_host_rejected",
            severity: Severity::Fail,
            title: format!(
                "Health probes are refused by ALLOWED_HOSTS (Host {})",
                probe_rejected.iter().map(|h| h.host.as_str()).collect::<Vec<_>>().join(", ")
            ),
            detail: "Kubernetes sends the pod IP as Host; Django answers 400 and the kubelet counts a failed probe, then restarts or unreadies the pod.".into(),
            fix: format!(
                "Give the probe a Host Django accepts: `httpGet: {{path: /health/, port: 8000, httpHeaders: [{{name: Host, value: {header}}}]}}` (and keep {header} in ALLOWED_HOSTS), or exempt the health path from host validation."
            ),
            evidence: first_evidence(probe_rejected.iter().map(|h| &h.evidence), 3),
        });
    }

    // Worker timeouts and other orphans, grouped by what hung.
    let timeout_orphans: Vec<&Orphan> = a
        .orphans
        .iter()
        .filter(|o| o.cause == Cause::WorkerTimeout)
        .collect();
    if a.worker_timeouts > 0 {
        let mut by_route: BTreeMap<(String, String), (u64, f64, Vec<&Orphan>)> = BTreeMap::new();
        for o in &timeout_orphans {
            let e = by_route
                .entry((o.request.method.clone(), o.request.path.clone()))
                .or_default();
            e.0 += 1;
            e.1 = e.1.max(o.request.open_seconds.unwrap_or(0.0));
            e.2.push(o);
        }
        let mut routes: Vec<_> = by_route.into_iter().collect();
        routes.sort_by(|x, y| y.1 .0.cmp(&x.1 .0).then(x.0.cmp(&y.0)));
        let hung: Vec<String> = routes
            .iter()
            .map(|((m, p), (n, longest, os))| {
                let status = os.iter().find_map(|o| o.client_status);
                format!(
                    "{m} {p} ×{n} (open {longest:.1} s{})",
                    status
                        .map(|s| format!(", client got gunicorn's {s}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let mut evidence: Vec<Evidence> = Vec::new();
        if let Some(o) = timeout_orphans.first() {
            evidence.push(o.request.start_evidence.clone());
            evidence.extend(o.cause_evidence.clone());
        } else {
            evidence.extend(a.timeout_evidence.iter().take(2).cloned());
        }
        let first_path = routes
            .first()
            .map(|r| r.0 .1.clone())
            .unwrap_or_else(|| "the slow view".into());
        findings.push(Finding {
            id: "worker_timeout",
            severity: Severity::Fail,
            title: if hung.is_empty() {
                format!("{} (the hung request is not in the logs)", plural(a.worker_timeouts, "worker timed out", "workers timed out"))
            } else {
                format!("Requests hung their worker past the {}-second timeout: {}", fmt_secs(ctx.timeout), hung.join("; "))
            },
            detail: format!(
                "gunicorn's master killed {} that stayed silent longer than --timeout {} s ({}). A sync worker serves one request at a time, so each hang also blocks every request queued behind it.",
                plural(a.worker_timeouts, "worker", "workers"),
                fmt_secs(ctx.timeout),
                ctx.timeout_source
            ),
            fix: format!(
                "Find what {first_path} waits on (a slow query, an outgoing call without a timeout, a lock) and bound it well below {} s; move long work to a background job; raise --timeout only if the work is legitimately that long; gthread or gevent workers keep other requests flowing meanwhile.",
                fmt_secs(ctx.timeout)
            ),
            evidence,
        });
    }
    if a.kills_after_timeout > 0 {
        findings.push(Finding {
            id: "sigkill_after_timeout",
            severity: Severity::Info,
            title: format!("{} after a WORKER TIMEOUT is the timeout's escalation, not out-of-memory", plural(a.kills_after_timeout, "SIGKILL", "SIGKILLs")),
            detail: "gunicorn sends SIGABRT on timeout and SIGKILL a moment later if the worker is still alive; since 21.0 it then prints `Perhaps out of memory?` regardless of the cause.".into(),
            fix: "Treat it as part of the timeout above; look for OOM only in kills with no timeout before them (or in `kubectl describe pod` → OOMKilled).".into(),
            evidence: a.kill_evidence.iter().take(2).cloned().collect(),
        });
    }
    if a.oom_suspected > 0 {
        findings.push(Finding {
            id: "oom_suspected",
            severity: Severity::Fail,
            title: format!("{} SIGKILLed with no timeout before: likely out of memory", plural(a.oom_suspected, "worker was", "workers were")),
            detail: "Nothing in gunicorn's own logs explains these kills; the kernel OOM killer (or a container memory limit) is the usual sender.".into(),
            fix: "Check the container's memory limit and usage (`kubectl describe pod` → Last State: OOMKilled, `dmesg`), lower --workers or memory per request, or recycle leaky workers with --max-requests.".into(),
            evidence: a.oom_evidence.clone(),
        });
    }
    let other_orphans: Vec<&Orphan> = a
        .orphans
        .iter()
        .filter(|o| o.cause != Cause::WorkerTimeout)
        .collect();
    let other_total: u64 = a
        .orphan_causes
        .iter()
        .filter(|(c, _)| **c != Cause::WorkerTimeout)
        .map(|(_, n)| n)
        .sum();
    if other_total > 0 {
        let mut paths: Vec<String> = Vec::new();
        for o in &other_orphans {
            let s = format!(
                "{} {} ({})",
                o.request.method,
                o.request.path,
                cause_words(o.cause)
            );
            if !paths.contains(&s) && paths.len() < 5 {
                paths.push(s);
            }
        }
        let mut evidence: Vec<Evidence> = Vec::new();
        for o in other_orphans.iter().take(2) {
            evidence.push(o.request.start_evidence.clone());
            evidence.extend(o.cause_evidence.clone());
        }
        findings.push(Finding {
            id: "requests_orphaned",
            severity: Severity::Fail,
            title: format!("{} logged but never answered: {}", plural(other_total, "request was", "requests were"), paths.join("; ")),
            detail: "Each of these has an INCOMING REQUEST line and no RESPONSE: the worker died, moved on, or the input ended while it was still open past the timeout.".into(),
            fix: "Look at what each path does after it is logged (the evidence shows where it stopped); a worker killed mid-request points at memory or a crash in native code.".into(),
            evidence,
        });
    }

    if in_flight > 0 && a.orphans_total == 0 {
        let mut paths: Vec<String> = Vec::new();
        for o in &a.in_flight {
            let age = o
                .open_seconds
                .map(|s| format!("open {s:.1} s"))
                .unwrap_or_else(|| "age unknown".into());
            let s = format!("{} {} ({age})", o.method, o.path);
            if paths.len() < 5 && !paths.contains(&s) {
                paths.push(s);
            }
        }
        findings.push(Finding {
            id: "requests_in_flight",
            severity: Severity::Warn,
            title: format!(
                "{} still open when the input ended: {}",
                plural(in_flight, "request was", "requests were"),
                paths.join("; ")
            ),
            detail: format!(
                "Each has its INCOMING REQUEST line and no RESPONSE yet. Younger than the {} s timeout (or without timestamps to tell), it may still be answered; a request that never is looks exactly like this.",
                fmt_secs(ctx.timeout)
            ),
            fix: "Read a longer stretch of the logs (or run again later) to see whether it ends; if it never does, look at what the path does after it is logged.".into(),
            evidence: a.in_flight.iter().take(3).map(|o| o.start_evidence.clone()).collect(),
        });
    }

    // server_errors
    let n5xx: u64 = a.status.range(500..).map(|(_, n)| n).sum();
    let with_status: u64 = a.status.values().sum();
    let mut types: Vec<(&String, &u64)> = a.exception_types.iter().collect();
    types.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    let top: Vec<String> = types
        .iter()
        .take(3)
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect();
    let codes: Vec<String> = a
        .status
        .range(500..)
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    checks.push(Check {
        id: "server_errors",
        title: "No server errors",
        expected: "no 5xx responses".into(),
        actual: if with_status == 0 {
            "no response status in the logs".into()
        } else if n5xx == 0 {
            format!("0 of {with_status} responses 5xx")
        } else {
            format!(
                "{n5xx} of {with_status} responses 5xx ({}){}",
                codes.join(", "),
                if top.is_empty() {
                    String::new()
                } else {
                    format!("; exceptions: {}", top.join(", "))
                }
            )
        },
        status: if with_status == 0 {
            Status::Unknown
        } else if n5xx == 0 {
            Status::Pass
        } else if n5xx * 10 >= with_status {
            Status::Fail
        } else {
            Status::Warn
        },
        evidence: a.server_error_evidence.clone(),
    });
    if n5xx > 0 {
        // gunicorn's own 500s to timed-out requests are told by the worker-timeout finding.
        let timeout_5xx = a
            .orphans
            .iter()
            .filter(|o| {
                o.cause == Cause::WorkerTimeout && o.client_status.is_some_and(|s| s >= 500)
            })
            .count() as u64;
        let only_timeouts = n5xx == timeout_5xx;
        if !only_timeouts {
            findings.push(Finding {
                id: "server_errors",
                severity: if n5xx * 10 >= with_status { Severity::Fail } else { Severity::Warn },
                title: format!(
                    "{} answered 5xx{}",
                    plural(n5xx, "request was", "requests were"),
                    if top.is_empty() { String::new() } else { format!(" ({})", top.join(", ")) }
                ),
                detail: "The app raised while handling these; the traceback after each evidence line names the code.".into(),
                fix: "Read the traceback under the first evidence line and fix the exception; add a test for that path.".into(),
                evidence: a.server_error_evidence.clone(),
            });
        }
    }

    if external.total == 0 && !a.boot_failed && a.requests > 0 {
        findings.push(Finding {
            id: "no_external_traffic",
            severity: Severity::Warn,
            title: "No request from outside reached the app: only probes and health checks did".into(),
            detail: "If users see 502/503 while the app looks healthy, their requests stop before gunicorn: at the load balancer, ingress, service port or DNS.".into(),
            fix: "Send one request through the public URL and look for its INCOMING REQUEST line here; if it never appears, check the ingress/service routing and the port gunicorn listens on.".into(),
            evidence: Vec::new(),
        });
    }
    if total_rejections == 0 && hidden_400s > 0 && a.accepted_hosts.is_empty() {
        findings.push(Finding {
            id: "disallowed_host_hidden",
            severity: Severity::Warn,
            title: format!("{} answered 400 with no Django line saying why", plural(hidden_400s, "request was", "requests were")),
            detail: "With DEBUG=False, Django's default LOGGING sends DisallowedHost only to mail_admins: an ALLOWED_HOSTS rejection shows as a bare 400 access line.".into(),
            fix: "Add a console handler for the `django.security` and `django.request` loggers in LOGGING, redeploy, and run reqtrail again.".into(),
            evidence: Vec::new(),
        });
    }
    Diagnosis {
        checks,
        findings,
        hosts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            public_hosts: &[],
            timeout: 30.0,
            timeout_source: "default",
        }
    }

    #[test]
    fn empty_input_fails_and_nothing_passes() {
        let d = diagnose(&Analysis::default(), &ctx());
        assert!(d.checks.iter().all(|c| c.status != Status::Pass));
        assert_eq!(d.checks[0].status, Status::Fail);
        assert_eq!(d.findings[0].id, "nothing_recognized");
    }
}
