//! Check `allowed_hosts` (ALLOWED_HOSTS accepts the public host): FAIL when Django rejects the
//! app's real host, WARN when it rejects other names and nothing shows which is real, rejections
//! past the first 1,000 hosts went unread, or 400s came with no DisallowedHost line and no host
//! accepted; PASS when hosts were accepted and only scanner noise was rejected; UNKNOWN with
//! nothing to tell.
//!
//! A rejected name is scanner noise until the logs show it is the real host: named by
//! --public-host, sent by health probes, asked for by users through an edge that got Django's
//! 400 back, or carried by most requests that had a Host (all of them, when it is the only one).
//! A single stray `Host:` beside a host served normally is no FAIL, and never advice to widen
//! ALLOWED_HOSTS, which is pasted into production.
//!
//! Findings `public_host_rejected` (fail), with the ALLOWED_HOSTS value to set, and
//! `probe_host_rejected` (fail), with the Host header to give the probe. disallowed_host_hidden has
//! its own file.

use super::words::{first_evidence, plural};
use super::{Check, Facts, Finding, HostKind, HostVerdict, RealBecause, Severity, Status};
use crate::settings::domain_of;

/// The check, then the two findings, in report order.
pub fn run(f: &Facts<'_>, checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    check(f, checks);
    public_host_rejected(f, findings);
    probe_host_rejected(f, findings);
}

/// `a.example ×3, b.example ×1` (at most eight, then how many more).
fn describe(hs: &[&HostVerdict]) -> String {
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
}

/// The rejected hosts sorted by what the logs show: the real ones, other names worth a look,
/// and scanner noise.
struct Sorted<'a> {
    real: Vec<&'a HostVerdict>,
    others: Vec<&'a HostVerdict>,
    noise: Vec<&'a HostVerdict>,
}

fn sorted<'a>(f: &'a Facts<'_>) -> Sorted<'a> {
    let hosts = &f.hosts;
    // Names nothing shows to be real: noise beside a host served normally, else worth a look.
    let served = !f.analysis.hosts.accepted.is_empty() && f.settings.public_hosts.is_empty();
    let is_noise = |h: &HostVerdict| {
        h.real.is_none() && (matches!(h.kind, HostKind::Ip | HostKind::Invalid) || served)
    };
    Sorted {
        real: hosts.iter().filter(|h| h.real.is_some()).collect(),
        others: hosts
            .iter()
            .filter(|h| h.real.is_none() && !is_noise(h))
            .collect(),
        noise: hosts.iter().filter(|h| is_noise(h)).collect(),
    }
}

fn check(f: &Facts<'_>, checks: &mut Vec<Check>) {
    let (status, actual) = verdict(f, &sorted(f));
    checks.push(Check {
        id: "allowed_hosts",
        title: "ALLOWED_HOSTS accepts the public host",
        expected: if f.settings.public_hosts.is_empty() {
            "no real host name rejected".into()
        } else {
            format!("{} accepted", f.settings.public_hosts.join(", "))
        },
        actual,
        status,
        evidence: first_evidence(f.hosts.iter().map(|h| &h.evidence), 3),
    });
}

/// The check's status and what it saw.
fn verdict(f: &Facts<'_>, s: &Sorted<'_>) -> (Status, String) {
    let a = f.analysis;
    let noise: u64 = s.noise.iter().map(|h| h.count).sum();
    let noise_note = if noise > 0 && s.noise.len() < f.hosts.len() {
        format!("; also scanner noise: {}", describe(&s.noise))
    } else {
        String::new()
    };
    if !s.real.is_empty() {
        (
            Status::Fail,
            format!("rejected: {}{noise_note}", describe(&s.real)),
        )
    } else if !s.others.is_empty() {
        let unnamed = if f.settings.public_hosts.is_empty() {
            " (none shown to be the real host: name it with --public-host)"
        } else {
            ""
        };
        (
            Status::Warn,
            format!(
                "other names rejected: {}{unnamed}{noise_note}",
                describe(&s.others)
            ),
        )
    } else if a.hosts.rejected_unlisted > 0 {
        (
            Status::Warn,
            format!(
                "{} rejections of hosts past the first 1,000 distinct ones were not looked at",
                a.hosts.rejected_unlisted
            ),
        )
    } else if f.total_rejections > 0 {
        let status = if a.hosts.accepted.is_empty() {
            Status::Unknown
        } else {
            Status::Pass
        };
        (
            status,
            format!("only scanner noise rejected: {}", describe(&s.noise)),
        )
    } else if f.hidden_400s > 0 && a.hosts.accepted.is_empty() {
        (
            Status::Warn,
            format!(
                "no DisallowedHost lines, but {} got 400 and none was accepted",
                plural(f.hidden_400s, "request", "requests")
            ),
        )
    } else if !a.hosts.accepted.is_empty() {
        let names: Vec<String> = a.hosts.accepted.keys().take(5).cloned().collect();
        (
            Status::Pass,
            format!("hosts accepted: {}", names.join(", ")),
        )
    } else {
        (
            Status::Unknown,
            "no request shows which hosts Django accepts".into(),
        )
    }
}

/// The real host names Django refuses, and the ALLOWED_HOSTS value that would let them in.
fn public_host_rejected(f: &Facts<'_>, findings: &mut Vec<Finding>) {
    let a = f.analysis;
    let hosts = &f.hosts;
    let mut value: Vec<String> = Vec::new();
    let mut push = |d: String| {
        if !d.is_empty() && !value.contains(&d) {
            value.push(d);
        }
    };
    // The hosts to add (most rejected first), the public ones, and those already accepted.
    for h in hosts
        .iter()
        .filter(|h| h.kind != HostKind::Probe && h.real.is_some())
        .take(10)
    {
        push(h.add_to_allowed_hosts.clone());
    }
    for p in &f.settings.public_hosts {
        push(domain_of(p));
    }
    for h in a.hosts.accepted.keys().take(20) {
        push(domain_of(h));
    }
    let public_rejected: Vec<&HostVerdict> = hosts
        .iter()
        .filter(|h| h.kind != HostKind::Probe && h.real.is_some())
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
                "Requests for {} reach the app and Django refuses the Host header (DisallowedHost → 400) because ALLOWED_HOSTS lacks it. {}{}",
                names.join(", "),
                why_real(&public_rejected),
                if f.settings.public_hosts.is_empty() {
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
}

/// Why the hosts recommended are taken for real ones, said for the first (most rejected).
fn why_real(hosts: &[&HostVerdict]) -> &'static str {
    match hosts.first().and_then(|h| h.real) {
        Some(RealBecause::Named) => "It is named by --public-host.",
        Some(RealBecause::Edge) => "Users asked for it through the edge and got Django's 400 back.",
        Some(RealBecause::Most) => "Most requests that carried a Host carried this one.",
        Some(RealBecause::Probes) | None => "",
    }
}

/// Probes refused for the pod IP they send as Host.
fn probe_host_rejected(f: &Facts<'_>, findings: &mut Vec<Finding>) {
    let hosts = &f.hosts;
    let probe_rejected: Vec<&HostVerdict> =
        hosts.iter().filter(|h| h.kind == HostKind::Probe).collect();
    if !probe_rejected.is_empty() {
        // A Host the logs show is the app's: named, served to most requests, or the real one
        // refused; never a guess.
        let served = f
            .analysis
            .hosts
            .accepted
            .iter()
            .filter(|(h, _)| crate::correlate::host_ip(h.as_bytes()).is_none())
            .max_by_key(|(_, n)| **n)
            .map(|(h, _)| domain_of(h));
        let real = hosts
            .iter()
            .find(|h| h.kind != HostKind::Probe && h.real.is_some())
            .map(|h| h.add_to_allowed_hosts.clone());
        let header = f
            .settings
            .public_hosts
            .first()
            .map(|h| domain_of(h))
            .or(served)
            .or(real);
        let (value, keep) = match &header {
            Some(h) => (h.as_str(), format!(" (and keep {h} in ALLOWED_HOSTS)")),
            None => ("a host ALLOWED_HOSTS already holds", String::new()),
        };
        findings.push(Finding {
            id: "probe_host_rejected",
            severity: Severity::Fail,
            title: format!(
                "Health probes are refused by ALLOWED_HOSTS (Host {})",
                probe_rejected.iter().map(|h| h.host.as_str()).collect::<Vec<_>>().join(", ")
            ),
            detail: "Kubernetes sends the pod IP as Host; Django answers 400 and the kubelet counts a failed probe, then restarts or unreadies the pod.".into(),
            fix: format!(
                "Give the probe a Host Django accepts: `httpGet: {{path: /health/, port: 8000, httpHeaders: [{{name: Host, value: {value}}}]}}`{keep}, or exempt the health path from host validation."
            ),
            evidence: first_evidence(probe_rejected.iter().map(|h| &h.evidence), 3),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::{case, judge};
    use super::super::{diagnose, real_because, HostKind, RealBecause, Status};
    use crate::correlate::{settle_timeout, Analysis};
    use crate::settings::Settings;

    #[test]
    fn what_makes_a_rejected_name_real() {
        let edge = ["app.example.com".to_string()];
        let r = |kind, name, counts, named| real_because(kind, [name, name], counts, &edge, named);
        assert_eq!(
            r(HostKind::Public, "x.org", (1, 9), true),
            Some(RealBecause::Named)
        );
        assert_eq!(
            r(HostKind::Probe, "10.1.2.3", (1, 9), false),
            Some(RealBecause::Probes)
        );
        assert_eq!(
            r(HostKind::Domain, "app.example.com", (1, 9), true),
            Some(RealBecause::Edge)
        );
        assert_eq!(
            r(HostKind::Domain, "x.org", (5, 9), false),
            Some(RealBecause::Most)
        );
        assert_eq!(
            r(HostKind::Domain, "x.org", (3, 3), false),
            Some(RealBecause::Most)
        );
        // Half is not most, a name beside --public-host is not real, nor is an IP however common.
        assert_eq!(r(HostKind::Domain, "x.org", (2, 4), false), None);
        assert_eq!(r(HostKind::Domain, "x.org", (5, 9), true), None);
        assert_eq!(r(HostKind::Ip, "203.0.113.9", (9, 9), false), None);
    }

    fn diagnosed(text: &str) -> super::super::Diagnosis {
        let settings = std::sync::Arc::new(Settings::default());
        let a: Analysis = crate::read::analyze_bytes("t", text.as_bytes(), &settings);
        let timeout = settle_timeout(None, a.workers.timeout_from_logs, &a.traffic.orphans);
        diagnose(&a, &settings, timeout)
    }

    #[test]
    fn the_probe_is_given_a_host_the_logs_show_never_a_guess() {
        let probe = "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /health/ from 127.0.0.1 Host: 10.96.27.85:8000\n\
            [2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: '10.96.27.85:8000'. You may need to add '10.96.27.85' to ALLOWED_HOSTS.\n\
            [2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /health/ -> 400\n\
            127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] \"GET /health/ HTTP/1.1\" 400 143 \"-\" \"kube-probe/1.32\"\n";
        let served = "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com\n\
            [2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 200\n";
        let fix = |text: &str| {
            let d = diagnosed(text);
            let f = d.findings.iter().find(|f| f.id == "probe_host_rejected");
            f.expect("probe_host_rejected").fix.clone()
        };
        let with = fix(&format!("{probe}{served}"));
        assert!(
            with.contains("value: app.example.com") && with.contains("keep app.example.com"),
            "{with}"
        );
        let alone = fix(probe);
        assert!(
            !alone.contains("localhost") && !alone.contains("keep "),
            "{alone}"
        );
    }

    #[test]
    fn a_stray_name_never_reaches_the_advice() {
        let text = "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com\n\
            [2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 200\n\
            [2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: stray.example.net\n\
            [2026-11-28 03:46:54 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'stray.example.net'. You may need to add 'stray.example.net' to ALLOWED_HOSTS.\n\
            [2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 400\n";
        let settings = std::sync::Arc::new(Settings::default());
        let a: Analysis = crate::read::analyze_bytes("stray", text.as_bytes(), &settings);
        let timeout = settle_timeout(None, a.workers.timeout_from_logs, &a.traffic.orphans);
        let d = diagnose(&a, &settings, timeout);
        for f in &d.findings {
            assert!(!f.fix.contains("stray.example.net"), "{}: {}", f.id, f.fix);
        }
        let check = d.checks.iter().find(|c| c.id == "allowed_hosts").unwrap();
        assert!(
            check
                .actual
                .contains("scanner noise rejected: stray.example.net"),
            "{}",
            check.actual
        );
    }

    #[test]
    fn cases() {
        judge(
            "allowed_hosts",
            &["public_host_rejected", "probe_host_rejected"],
            &[
                case(
                    "host accepted",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "accepted, and a scanner's IP refused",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: 203.0.113.9",
                        "[2026-11-28 03:46:54 +0000] [27067] [ERROR] Invalid HTTP_HOST header: '203.0.113.9'. You may need to add '203.0.113.9' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "the public host refused",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Fail,
                    &["public_host_rejected"],
                ),
                case(
                    "the probe's pod IP refused",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /health/ from 127.0.0.1 Host: 10.96.27.85:8000",
                        "[2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: '10.96.27.85:8000'. You may need to add '10.96.27.85' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /health/ -> 400",
                        r#"127.0.0.1 - - [28/Nov/2026:03:46:53 +0000] "GET /health/ HTTP/1.1" 400 143 "-" "kube-probe/1.32""#,
                    ],
                    Status::Fail,
                    &["probe_host_rejected"],
                ),
                case(
                    "another name refused, the public one given",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: old.example.org",
                        "[2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'old.example.org'. You may need to add 'old.example.org' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Warn,
                    &[],
                )
                .public_host("https://app.example.com/"),
                case(
                    "a stray name once, beside the host served: noise, no advice",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: stray.example.net",
                        "[2026-11-28 03:46:54 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'stray.example.net'. You may need to add 'stray.example.net' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Pass,
                    &[],
                ),
                case(
                    "most requests carry the rejected name: it is the real one",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET /login/ from 127.0.0.1 Host: localhost:8000",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET /login/ -> 200",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:54 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                        "[2026-11-28 03:46:55 +0000] [27067] [INFO] INCOMING REQUEST: GET /cart/ from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:55 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:55 +0000] [27067] [INFO] RESPONSE: GET /cart/ -> 400",
                    ],
                    Status::Fail,
                    &["public_host_rejected"],
                ),
                case(
                    "several names refused, none served, none most: a look, no advice",
                    &[
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: a.example.net",
                        "[2026-11-28 03:46:54 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'a.example.net'. You may need to add 'a.example.net' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:54 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                        "[2026-11-28 03:46:55 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: b.example.net",
                        "[2026-11-28 03:46:55 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'b.example.net'. You may need to add 'b.example.net' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:55 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Warn,
                    &[],
                ),
                case(
                    "the name given refused beside a stray one served",
                    &[
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: localhost",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 200",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] INCOMING REQUEST: GET / from 127.0.0.1 Host: app.example.com",
                        "[2026-11-28 03:46:53 +0000] [27067] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
                        "[2026-11-28 03:46:53 +0000] [27067] [INFO] RESPONSE: GET / -> 400",
                    ],
                    Status::Fail,
                    &["public_host_rejected"],
                )
                .public_host("app.example.com"),
                case(
                    "no request",
                    &["[2026-11-28 03:46:52 +0000] [27064] [INFO] Starting gunicorn 23.0.0"],
                    Status::Unknown,
                    &[],
                ),
            ],
        );
    }
}
