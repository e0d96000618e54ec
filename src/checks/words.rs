//! The wording the checks share: counts with their noun, a class's requests in one line,
//! seconds as people write them, what a cause means, which layout
//! unrecognised lines look like. Kept apart so every check says the same thing the same way.

use crate::correlate::users::AppCause;
use crate::correlate::{Analysis, Cause, ClassStats, Evidence};
use crate::parse::edge::{Edge, Reason};

/// `3 workers`, `1 worker`: a count with its noun.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One class's requests in one line: `12 probes: 10 below 400, 2 5xx`.
pub(crate) fn requests_line(s: &ClassStats, what: &str) -> String {
    let mut parts = Vec::new();
    if s.ok > 0 {
        parts.push(format!("{} below 400", s.ok));
    }
    if s.host_rejected > 0 {
        parts.push(format!(
            "{} rejected by ALLOWED_HOSTS (400)",
            s.host_rejected
        ));
    }
    if s.client_error > s.host_rejected {
        parts.push(format!("{} other 4xx", s.client_error - s.host_rejected));
    }
    if s.server_error > 0 {
        parts.push(format!("{} 5xx", s.server_error));
    }
    if s.orphaned > 0 && s.cut_by_shutdown > 0 {
        parts.push(format!(
            "{} never answered ({} cut by the server's stop)",
            s.orphaned, s.cut_by_shutdown
        ));
    } else if s.orphaned > 0 {
        parts.push(format!("{} never answered", s.orphaned));
    }
    if s.in_flight > 0 {
        parts.push(format!("{} in flight at the end", s.in_flight));
    }
    if s.client_gone > 0 {
        parts.push(format!(
            "{} whose client left before the answer",
            s.client_gone
        ));
    }
    if s.unknown_status > 0 {
        parts.push(format!(
            "{} finished with no status logged",
            s.unknown_status
        ));
    }
    format!(
        "{}: {}",
        plural(s.total, what, &format!("{what}s")),
        parts.join(", ")
    )
}

/// The first `n` evidence lines of several lists, in order.
pub(crate) fn first_evidence<'a>(
    lists: impl IntoIterator<Item = &'a Vec<Evidence>>,
    n: usize,
) -> Vec<Evidence> {
    lists.into_iter().flatten().take(n).cloned().collect()
}

/// Which known layout the unrecognised lines come closest to, and the option that would let
/// reqtrail read them.
pub(crate) fn closest_layout<'a>(samples: impl IntoIterator<Item = &'a str>) -> (String, String) {
    let samples: Vec<&str> = samples.into_iter().collect();
    let any = |f: &dyn Fn(&str) -> bool| samples.iter().any(|s| f(s));
    let words = [
        "INCOMING", "REQUEST", "RESPONSE", "request", "response", "-->", "<--",
    ];
    if any(&|s| words.iter().any(|w| s.contains(w))) {
        return (
            "request-logging lines in a wording of your own".into(),
            "Declare that wording with --request-start / --request-end regexes, or in reqtrail.toml (README: \"Your own request-logging wording\").".into(),
        );
    }
    if any(&|s| s.trim_start().starts_with('{')) {
        return (
            "JSON records without a message field reqtrail knows (message, msg, event)".into(),
            "Log the text under `message` (python-json-logger does), or declare your wording with --request-start / --request-end.".into(),
        );
    }
    if any(&|s| s.contains("\"GET ") || s.contains("\"POST ") || s.contains("HTTP/1.")) {
        return (
            "access lines in a custom access_log_format".into(),
            "Use gunicorn's default access_log_format (or keep `%(r)s` quoted and `%(s)s` after it), or declare the request end with --request-end.".into(),
        );
    }
    let dated = |s: &str| {
        let b = s.as_bytes();
        b.len() > 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
    };
    if any(&|s| dated(s)) {
        return (
            "a timestamped layout reqtrail does not know".into(),
            "Use gunicorn's default error-log format (`[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s`) for the app's logging too, or declare your request lines with --request-start / --request-end.".into(),
        );
    }
    (
        "none of the known layouts (gunicorn, Django, uvicorn, JSON, logfmt)".into(),
        "Check that this is the app's output (`docker logs web 2>&1`), or declare your request lines with --request-start / --request-end.".into(),
    )
}

/// `gunicorn 23.0.0`, `sync workers`, `listening at …`: what the logs say of the server, as
/// every report states it (raw text: each output escapes it its own way).
pub fn gunicorn_facts(
    version: Option<&str>,
    class: Option<&str>,
    listening: &[String],
) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(v) = version {
        facts.push(format!("gunicorn {v}"));
    }
    if let Some(c) = class {
        facts.push(format!("{c} workers"));
    }
    if !listening.is_empty() {
        facts.push(format!("listening at {}", listening.join(", ")));
    }
    facts
}

/// A cause of an unanswered request, as the reports word it.
pub fn cause_words(c: Cause) -> &'static str {
    match c {
        Cause::WorkerTimeout => "killed by worker timeout",
        Cause::WorkerKilled => "worker killed",
        Cause::WorkerExited => "worker exited",
        Cause::NeverAnswered => "never answered",
        Cause::OpenAtEnd => "open at end of input",
        Cause::Shutdown => "cut by the server's shutdown (stopped, not crashed)",
    }
}

/// The app's three most frequent exception types: `ZeroDivisionError ×2`.
pub(crate) fn top_exceptions(a: &Analysis) -> Vec<String> {
    let mut types: Vec<(&String, &u64)> = a.errors.exception_types.iter().collect();
    types.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    types
        .iter()
        .take(3)
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect()
}

/// An edge by the name its users know it by.
pub fn edge_label(e: Edge) -> &'static str {
    match e {
        Edge::Nginx => "nginx",
        Edge::IngressNginx => "ingress-nginx",
        Edge::HerokuRouter => "Heroku router",
        Edge::Caddy => "Caddy",
        Edge::Traefik => "Traefik",
        Edge::HaProxy => "HAProxy",
        Edge::AwsAlb => "AWS ALB",
        Edge::GcpLoadBalancer => "Google Cloud load balancer",
    }
}

/// What the edge said went wrong, in words.
pub fn reason_words(r: Reason) -> &'static str {
    match r {
        Reason::UpstreamTimeout => "timed out waiting for the app",
        Reason::UpstreamClosed => "the app closed the connection without an answer",
        Reason::UpstreamReset => "the app reset the connection",
        Reason::ConnectionRefused => "connection to the app refused",
        Reason::NoUpstream => "no upstream to send it to",
        Reason::BootTimeout => "the app did not boot in time",
        Reason::ClientClosed => "the client went away first",
        Reason::Other => "the edge failed it",
    }
}

/// What happened on the app's side of an edge failure, in words.
pub fn app_cause_words(c: AppCause) -> &'static str {
    match c {
        AppCause::WorkerTimeout => "gunicorn killed the worker (WORKER TIMEOUT)",
        AppCause::WorkerKilled => "the worker was killed",
        AppCause::Shutdown => "the server was stopped with it open (not a crash)",
        AppCause::NeverAnswered => "the app never answered",
        AppCause::StillOpen => "the app was still working on it when its log ends",
        AppCause::AppError => "the app answered 5xx itself",
        AppCause::HostRejected => "Django rejected the Host header (400)",
        AppCause::AnsweredAfterEdgeGaveUp => "the app answered after the edge had given up",
        AppCause::AppAnswered => "the app answered in time; the edge failed it",
        AppCause::NoWorkerAccepting => {
            "nothing accepted the connection (gunicorn down or not booted)"
        }
        AppCause::NoReadyEndpoint => "no ready endpoint behind the edge",
        AppCause::NeverReachedApp => {
            "no failed or slow app request matches it: it likely never reached the app"
        }
        AppCause::AppSideMissing => "unknown: the app's log was not read",
    }
}

/// `30` for 30.0, `0.5` for 0.5: seconds as a person writes them.
pub(crate) fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_layouts() {
        assert!(closest_layout(["--> GET /x"]).1.contains("--request-start"));
        assert!(closest_layout(["{\"text\": 1}"]).0.contains("JSON"));
        assert!(closest_layout(["x \"GET / HTTP/1.1\" 200"])
            .0
            .contains("access"));
        assert!(closest_layout(["2026-11-28T03:00:00 thing"])
            .0
            .contains("timestamped"));
        assert!(closest_layout(["hello"]).0.contains("none of the known"));
    }
}
