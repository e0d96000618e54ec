//! Finding `edge_timeout_shorter_than_gunicorn` (warn): the edge gives up on a request before
//! gunicorn's timeout would, so a slow request reaches its user as the edge's 504 while gunicorn
//! goes on working and logs nothing wrong. Told from how long the edge was seen to wait (its
//! timeouts paired with the app's requests, or the time it logs) against gunicorn's timeout as
//! the logs or `--timeout` give it; the Heroku router's fixed 30 s (H12) against a longer
//! gunicorn timeout too. Never from the default 30 s alone.

use super::words::{edge_label, fmt_secs};
use super::{Check, Facts, Finding, Severity};
use crate::correlate::edge::EdgeFailure;
use crate::correlate::Evidence;
use crate::parse::edge::{Edge, Reason};

/// The Heroku router's request timeout (H12), fixed by the platform.
const HEROKU_ROUTER_SECONDS: f64 = 30.0;

/// A timeout of the edge whose wait is known.
fn waited(x: &EdgeFailure) -> Option<f64> {
    if x.reason != Some(Reason::UpstreamTimeout) {
        return None;
    }
    match x.edge {
        Edge::HerokuRouter => Some(HEROKU_ROUTER_SECONDS),
        _ => x.explained.as_ref()?.edge_waited,
    }
}

pub fn run(f: &Facts<'_>, _checks: &mut Vec<Check>, findings: &mut Vec<Finding>) {
    if f.timeout.source == "default" {
        return;
    }
    let gunicorn = f.timeout.seconds;
    let timeouts: Vec<(&EdgeFailure, f64)> = f
        .analysis
        .edge
        .failures
        .iter()
        .filter_map(|x| Some((x, waited(x)?)))
        .collect();
    // The edge's timeout is at least the longest wait seen; a wait under half a second is
    // a refused or reset connection, not a timeout.
    let Some(&(first, edge)) = timeouts
        .iter()
        .filter(|(_, w)| *w >= 0.5)
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return;
    };
    if edge + 1.0 > gunicorn {
        return;
    }
    let name = edge_label(first.edge);
    let edge_s = fmt_secs(edge.round());
    let g = fmt_secs(gunicorn);
    // Lowering gunicorn's timeout under a wait of a few seconds would kill healthy requests.
    let or_lower = if edge >= 10.0 {
        format!(", or lower gunicorn's --timeout below {edge_s} s")
    } else {
        String::new()
    };
    let longer = fmt_secs(gunicorn + 5.0);
    let fix = match first.edge {
        Edge::HerokuRouter => format!(
            "The router's 30 s cannot be changed: set gunicorn's --timeout below it (e.g. 25) so gunicorn cuts off what hangs and logs it; gunicorn's is {g} s now."
        ),
        Edge::IngressNginx => format!(
            "Make the edge wait longer than gunicorn: the `nginx.ingress.kubernetes.io/proxy-read-timeout` annotation above {g} (e.g. \"{longer}\"){or_lower}."
        ),
        Edge::Nginx => format!(
            "Make nginx wait longer than gunicorn: `proxy_read_timeout {longer}s;` in the location that proxies to it{or_lower}, so gunicorn's WORKER TIMEOUT (with its traceback) is what cuts off a request that hangs."
        ),
        Edge::HaProxy => format!(
            "Make HAProxy wait longer than gunicorn: `timeout server {longer}s` in the backend{or_lower}."
        ),
        Edge::Caddy => format!(
            "Make Caddy wait longer than gunicorn: `response_header_timeout {longer}s` in reverse_proxy's `transport http` block{or_lower}."
        ),
        Edge::Traefik => format!(
            "Make Traefik wait longer than gunicorn: the serversTransport's `forwardingTimeouts.responseHeaderTimeout` above {g} s (e.g. {longer}s){or_lower}."
        ),
        Edge::AwsAlb => format!(
            "Make the load balancer wait longer than gunicorn: its `idle_timeout.timeout_seconds` attribute above {g} (e.g. {longer}){or_lower}."
        ),
        Edge::GcpLoadBalancer => format!(
            "Make the load balancer wait longer than gunicorn: the backend service's timeout (`gcloud compute backend-services update NAME --timeout={longer}s`){or_lower}."
        ),
    };
    let mut evidence: Vec<Evidence> = first.evidence.clone();
    if let Some(x) = &first.explained {
        evidence.extend(x.evidence.iter().cloned());
    }
    evidence.extend(f.analysis.workers.timeout_evidence.iter().take(1).cloned());
    findings.push(Finding {
        id: "edge_timeout_shorter_than_gunicorn",
        severity: Severity::Warn,
        title: format!("{name} gives up after about {edge_s} s, before gunicorn's {g} s timeout"),
        detail: format!(
            "A request that takes between {edge_s} and {g} s reaches its user as {name}'s timeout while gunicorn keeps working on it and logs nothing wrong ({} such {} here). gunicorn's {g} s: {}.",
            timeouts.len(),
            if timeouts.len() == 1 { "timeout" } else { "timeouts" },
            f.timeout.source
        ),
        fix,
        evidence,
    });
}
