//! Hosts and request classes: which Host headers Django rejected (DisallowedHost) and which it
//! accepted, whether a Host is an internal IP, and the class of a request (probe, health check
//! or external traffic) from its path, host and user agent.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::notices::{AlertKind, Notices};
use super::records::lossy;
use super::{keep, Analysis, Class, HostRejections, Line, MAX_HOSTS};
use crate::input::find_short;
use crate::settings::{domain_of, Settings};

/// `10.96.27.85:8080`, `[fd00::1]:80` → the IP, if the host is an IP literal.
pub fn host_ip(host: &[u8]) -> Option<IpAddr> {
    // A name (no port, not ending in a digit) is no IP: the usual case skips the parsers, and
    // the UTF-8 check before them. A Host is a few words: scanned in line, not by memchr.
    if !host.last().is_some_and(u8::is_ascii_digit) && find_short(host, [b':']).is_none() {
        return None;
    }
    let host = std::str::from_utf8(host).ok()?;
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    bare.parse().ok()
}

/// Private, shared or link-local addresses: a pod IP, a node IP, a cluster service.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

const PROBE_AGENTS: &[&str] = &[
    "kube-probe/",
    "GoogleHC/",
    "ELB-HealthChecker/",
    "Amazon-Route53-Health-Check-Service",
];

/// Classifies requests and counts hosts, by the run's settings.
pub(super) struct Hosts {
    settings: Arc<Settings>,
    /// The settings' health paths without their trailing `/`.
    health_paths: FxHashSet<Box<[u8]>>,
    /// Bit `n` set: some health path is `n` bytes long (bit 63: 63 or more). Most paths are
    /// no health path's length, and skip hashing.
    health_lengths: u64,
    /// The settings' public hosts as hosts are compared (lower-case, no port).
    public_hosts: Vec<String>,
}

impl Hosts {
    pub(super) fn new(settings: Arc<Settings>) -> Hosts {
        // As a request logs them: `/healthz/`, `/healthz` and `healthz` are one path.
        let health_paths = settings
            .health_paths
            .iter()
            .map(|h| {
                let h = h.trim().trim_end_matches('/');
                let slash = if h.is_empty() || h.starts_with('/') {
                    ""
                } else {
                    "/"
                };
                format!("{slash}{h}").into_bytes().into()
            })
            .collect::<FxHashSet<Box<[u8]>>>();
        let health_lengths = health_paths.iter().fold(0, |m, p| m | length_bit(p));
        let public_hosts = settings.public_hosts.iter().map(|h| domain_of(h)).collect();
        Hosts {
            settings,
            health_paths,
            health_lengths,
            public_hosts,
        }
    }

    /// Whether a user agent is a health checker's (built in, or `--probe-agent`).
    pub(super) fn is_probe_agent(&self, agent: Option<&[u8]>) -> bool {
        let Some(a) = agent else { return false };
        // As `String::from_utf8_lossy(a).starts_with(p)`, without decoding the whole agent:
        // the two differ only for a prefix holding U+FFFD, the replacement character (none of
        // the built-in ones does).
        let starts = |p: &str| a.starts_with(p.as_bytes());
        let starts_lossy = |p: &str| {
            starts(p) || (p.contains('\u{FFFD}') && String::from_utf8_lossy(a).starts_with(p))
        };
        PROBE_AGENTS.iter().any(|p| starts(p))
            || self.settings.probe_agents.iter().any(|p| starts_lossy(p))
    }

    pub(super) fn classify(
        &self,
        path: &[u8],
        host: Option<&[u8]>,
        probe_agent: bool,
        bypass: bool,
    ) -> Class {
        let internal_host = || {
            host.and_then(host_ip).is_some_and(|ip| {
                is_internal(ip) || self.settings.internal_nets.iter().any(|n| n.contains(ip))
            })
        };
        if probe_agent || bypass || internal_host() {
            return Class::Probe;
        }
        let mut path = path;
        while let [rest @ .., b'/'] = path {
            path = rest;
        }
        if self.health_lengths & length_bit(path) != 0 && self.health_paths.contains(path) {
            return Class::Health;
        }
        Class::External
    }

    /// A DisallowedHost line: counts the rejection (listed while under [`MAX_HOSTS`] hosts,
    /// or the host is public) and returns the host, for the request it rejected.
    #[cold]
    pub(super) fn rejected(
        &self,
        line: &Line<'_>,
        (host, add, rfc_valid): (&[u8], Option<&[u8]>, bool),
        out: &mut Analysis,
        notices: &mut Notices,
    ) -> String {
        let host = lossy(host);
        out.time.timeline.at(line.time, |b| b.disallowed_hosts += 1);
        // Past the cap only the public host(s) are still listed: they are the point.
        let public = !self.public_hosts.is_empty() && {
            let domain = add.map(lossy).unwrap_or_else(|| host.to_ascii_lowercase());
            self.public_hosts.contains(&domain)
        };
        let listed = out.hosts.rejected.len() < MAX_HOSTS
            || public
            || out.hosts.rejected.contains_key(&host);
        if !listed {
            out.hosts.rejected_unlisted += 1;
            return host;
        }
        if !out.hosts.rejected.contains_key(&host) {
            if notices.wanted() {
                let e = line.evidence();
                let message = format!("Django rejects a new Host: {host}");
                notices.alert(AlertKind::NewDisallowedHost, message, line.time, &e);
            }
            out.hosts
                .rejected
                .insert(host.clone(), HostRejections::default());
        }
        let entry = out.hosts.rejected.get_mut(&host).expect("inserted above");
        entry.count += 1;
        entry.public = public;
        entry.rfc_valid = rfc_valid;
        if entry.add.is_none() {
            entry.add = add.map(lossy);
        }
        keep(&mut entry.evidence, || line.evidence());
        host
    }
}

/// A path's bit in [`Hosts`]' `health_lengths`.
fn length_bit(path: &[u8]) -> u64 {
    1 << path.len().min(63)
}

/// Counts one more request the app accepted with Host `host` (listed while under
/// [`MAX_HOSTS`] hosts).
pub(super) fn count_accepted(hosts: &mut BTreeMap<String, u64>, host: Cow<'_, str>) {
    let room = hosts.len() < MAX_HOSTS;
    match hosts.get_mut(&*host) {
        Some(n) => *n += 1,
        None if room => {
            hosts.insert(host.into_owned(), 1);
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{run, Class};

    #[test]
    fn disallowed_host_marks_request() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /login/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:00 +0000] [36] [ERROR] Invalid HTTP_HOST header: 'app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
            "[2025-10-16 08:00:00 +0000] [36] [WARNING] Bad Request: /login/",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /login/ -> 400",
        ]);
        assert_eq!(a.hosts.rejected["app.example.com"].count, 1);
        assert_eq!(a.traffic.by_class[&Class::External].host_rejected, 1);
        assert!(a.hosts.accepted.is_empty());
    }

    #[test]
    fn a_rejection_pasted_without_its_quote_still_counts() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET / from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:00 +0000] [36] [ERROR] Invalid HTTP_HOST header: app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
            "[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET / -> 400",
        ]);
        assert_eq!(a.hosts.rejected["app.example.com"].count, 1);
        assert_eq!(a.traffic.by_class[&Class::External].host_rejected, 1);
    }

    #[test]
    fn probe_agents_by_prefix_of_the_agent_as_shown() {
        let settings = Settings {
            probe_agents: vec!["scan\u{FFFD}bot".into()],
            ..Settings::default()
        };
        let c = Hosts::new(Arc::new(settings));
        assert!(c.is_probe_agent(Some(b"kube-probe/1.32")));
        assert!(!c.is_probe_agent(Some(b"curl/8.5.0")));
        // Shown lossily, `scan\xffbot` reads `scan\u{FFFD}bot`: the prefix a user would copy.
        assert!(c.is_probe_agent(Some(b"scan\xffbot/2")));
        assert!(!c.is_probe_agent(Some(b"scan bot/2")));
        // The built-in prefixes are compared as bytes only, which is the same for them.
        assert!(PROBE_AGENTS.iter().all(|p| !p.contains('\u{FFFD}')));
    }

    #[test]
    fn health_paths_as_typed_are_paths() {
        let settings = Settings {
            health_paths: vec!["healthz".into(), " /up/ ".into(), "/".into()],
            ..Settings::default()
        };
        let c = Hosts::new(Arc::new(settings));
        let mut paths: Vec<&[u8]> = c.health_paths.iter().map(|p| &**p).collect();
        paths.sort();
        assert_eq!(paths, [&b""[..], b"/healthz", b"/up"]);
    }

    #[test]
    fn host_ips() {
        assert!(host_ip(b"10.96.27.85:8080").is_some_and(is_internal));
        assert!(host_ip(b"[fd00::1]:80").is_some_and(is_internal));
        assert!(host_ip(b"203.0.113.9").is_some_and(|ip| !is_internal(ip)));
        assert!(host_ip(b"app.example.com:80").is_none());
    }
}
