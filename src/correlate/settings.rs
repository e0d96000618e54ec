//! What a run was told about the deployment (flags and settings file) that changes how requests
//! are judged: the timeout, health paths, probe agents, internal networks, patterns, public hosts.
//! Kept apart from the correlator so the command line and the settings file fill it without
//! knowing how correlation works.

use std::sync::Arc;

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

/// Settings that change how requests are judged.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--timeout`, overriding what the logs say.
    pub timeout: Option<f64>,
    pub health_paths: Vec<String>,
    /// User-agent prefixes of probes besides the built-in ones.
    pub probe_agents: Vec<String>,
    /// Networks whose IPs in a Host header mean internal traffic, besides the private ranges.
    pub internal_nets: Vec<crate::config::Cidr>,
    /// A team's own request-start / request-end patterns.
    pub patterns: Arc<crate::config::Patterns>,
    /// The public host names (lower-case, no port), always listed when rejected.
    pub public_hosts: Vec<String>,
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
        }
    }
}
