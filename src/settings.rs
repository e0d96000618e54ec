//! What a team tells reqtrail about its deployment, in one [`Settings`]: its own
//! request-logging wording (regexes with named groups), health paths, probe user agents,
//! internal networks, public hosts, the worker timeout.
//!
//! Read from `--config FILE` (or `./reqtrail.toml` when present) and from flags; flags add to
//! the file. Everything is validated at start-up: a bad regex, an unknown group or a pattern
//! that cannot say which request it is about is a usage error (exit 2), never a silent no-op.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use regex::bytes::Regex;
use serde::Deserialize;

/// Named groups a pattern may use.
pub const GROUPS: &[&str] = &["method", "path", "status", "host", "client", "pid", "id"];

/// Paths counted as health checks when no --health-path is given (a trailing `/` is ignored).
pub const DEFAULT_HEALTH_PATHS: &[&str] = &[
    "/health",
    "/healthz",
    "/health-check",
    "/healthcheck",
    "/ready",
    "/readyz",
    "/readiness",
    "/live",
    "/livez",
    "/liveness",
    "/ping",
    "/status",
    "/_health",
    "/ht",
];

/// Everything the run was told about the deployment (flags and settings file together) that
/// changes how lines are read and requests judged.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--timeout`, overriding what the logs say.
    pub timeout: Option<f64>,
    pub health_paths: Vec<String>,
    /// User-agent prefixes of probes besides the built-in ones.
    pub probe_agents: Vec<String>,
    /// Networks whose IPs in a Host header mean internal traffic, besides the private ranges.
    pub internal_nets: Vec<Cidr>,
    /// A team's own request-start / request-end patterns.
    pub patterns: Arc<Patterns>,
    /// The public host names as given (a URL already cut to its host, port kept).
    pub public_hosts: Vec<String>,
    /// Sources that are an edge's log (a proxy's, a load balancer's, a platform router's): input
    /// paths as given, file names, compose services, kubectl pods or containers.
    pub edges: Vec<String>,
}

impl Default for Settings {
    /// What a run with no flags and no settings file uses.
    fn default() -> Settings {
        Settings {
            timeout: None,
            health_paths: DEFAULT_HEALTH_PATHS.iter().map(|s| s.to_string()).collect(),
            probe_agents: Vec::new(),
            internal_nets: Vec::new(),
            patterns: Arc::default(),
            public_hosts: Vec::new(),
            edges: Vec::new(),
        }
    }
}

/// A host as hosts are compared: `app.example.com:443` → `app.example.com`; `[::1]:80` →
/// `[::1]`; lower-cased.
pub fn domain_of(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if h.starts_with('[') {
        return h.split_inclusive(']').next().unwrap_or(&h).to_string();
    }
    match h.rsplit_once(':') {
        Some((d, port)) if port.chars().all(|c| c.is_ascii_digit()) => d.to_string(),
        _ => h,
    }
}

/// The file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub request_start: Vec<String>,
    #[serde(default)]
    pub request_end: Vec<String>,
    #[serde(default)]
    pub health_paths: Vec<String>,
    #[serde(default)]
    pub probe_user_agents: Vec<String>,
    #[serde(default)]
    pub internal_networks: Vec<String>,
    #[serde(default)]
    pub public_hosts: Vec<String>,
    #[serde(default)]
    pub edge: Vec<String>,
    pub timeout: Option<f64>,
}

/// A compiled request pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub regex: Regex,
    pub source: String,
}

/// Request-start and request-end patterns, tried on lines the built-in parsers do not know.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub start: Vec<Pattern>,
    pub end: Vec<Pattern>,
}

impl Patterns {
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.end.is_empty()
    }
}

/// An IP network in CIDR notation (`10.96.0.0/12`; a bare address is its own /32 or /128).
///
/// The network itself and the matching are `ipnet`'s; reading it stays here so the messages a
/// user sees, and the spaces tolerated around the address and the prefix, are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, b) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP network (like 10.0.0.0/8)"))?;
        let bad_prefix = || format!("'{s}': bad prefix length");
        let net = if b.is_empty() {
            IpNet::from(addr)
        } else {
            let bits = b.trim().parse::<u8>().map_err(|_| bad_prefix())?;
            IpNet::new(addr, bits).map_err(|_| bad_prefix())?
        };
        Ok(Cidr(net))
    }

    /// The prefix length: how many leading bits an address must share to be inside.
    pub fn bits(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether `ip` is inside; an address of the other family never is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

/// Compiles one pattern and checks its groups make sense for its kind.
pub fn compile(source: &str, end: bool) -> Result<Pattern, String> {
    let kind = if end { "request-end" } else { "request-start" };
    let regex = Regex::new(source).map_err(|e| format!("bad {kind} pattern '{source}': {e}"))?;
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    if let Some(bad) = names.iter().find(|n| !GROUPS.contains(n)) {
        return Err(format!(
            "{kind} pattern '{source}' has an unknown group '{bad}' (known: {})",
            GROUPS.join(", ")
        ));
    }
    let has = |g| names.contains(&g);
    if !(has("id") || (has("method") && has("path"))) {
        return Err(format!(
            "{kind} pattern '{source}' needs (?P<method>…) and (?P<path>…), or (?P<id>…)"
        ));
    }
    if end && !has("status") {
        return Err(format!(
            "request-end pattern '{source}' needs a (?P<status>…) group"
        ));
    }
    Ok(Pattern {
        regex,
        source: source.to_string(),
    })
}

/// Reads `path`, or `./reqtrail.toml` when no path is given and that file exists.
pub fn load(path: Option<&Path>) -> Result<(Option<PathBuf>, File), String> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from("reqtrail.toml");
            if !default.is_file() {
                return Ok((None, File::default()));
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((Some(path), file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_validated() {
        assert!(compile(r"^REQ (?P<method>\S+) (?P<path>\S+)", false).is_ok());
        assert!(compile(r"^RES (?P<id>\S+) (?P<status>\d+)", true).is_ok());
        assert!(compile(r"^RES (?P<id>\S+)", true)
            .unwrap_err()
            .contains("status"));
        assert!(compile(r"^REQ (?P<verb>\S+)", false)
            .unwrap_err()
            .contains("unknown group 'verb'"));
        assert!(compile(r"^REQ (?P<method>\S+)", false)
            .unwrap_err()
            .contains("needs"));
        assert!(compile(r"^REQ (unclosed", false)
            .unwrap_err()
            .contains("bad request-start pattern"));
    }

    #[test]
    fn domains() {
        assert_eq!(domain_of("App.Example.com:443"), "app.example.com");
        assert_eq!(domain_of("[::1]:80"), "[::1]");
        assert_eq!(domain_of("example.com"), "example.com");
    }

    #[test]
    fn networks() {
        let n = Cidr::parse("10.96.0.0/12").unwrap();
        assert!(n.contains("10.100.1.2".parse().unwrap()));
        assert!(!n.contains("10.112.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().bits(), 32);
        assert!(Cidr::parse("fd00::1").unwrap().bits() == 128);
        assert!(!Cidr::parse("10.0.0.0/8")
            .unwrap()
            .contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse(" 10.0.0.0 / 8 ").is_ok());
        assert!(Cidr::parse("fd00::/129").is_err());
    }

    #[test]
    fn file_keys_are_checked() {
        let f: File = toml::from_str("public_hosts = ['a.com']\ntimeout = 5\n").unwrap();
        assert_eq!(f.public_hosts, ["a.com"]);
        assert!(toml::from_str::<File>("publc_hosts = ['a.com']").is_err());
    }
}
