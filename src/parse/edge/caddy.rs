//! Caddy's JSON logs: the access log (`log` directive) and the errors its `reverse_proxy`
//! handler reports.
//!
//! Caddy v2 logs through zap, one JSON object per line. An access entry, as its documentation
//! and real logs show it:
//!
//! ```text
//! {"level":"info","ts":1795837621.524,"logger":"http.log.access.log0","msg":"handled request",
//!  "request":{"remote_ip":"10.0.0.5","remote_port":"41342","client_ip":"10.0.0.5",
//!  "proto":"HTTP/1.1","method":"GET","host":"shop.example.com","uri":"/slow/",
//!  "headers":{"User-Agent":["curl/8.5.0"]}},"bytes_read":0,"user_id":"",
//!  "duration":30.0012,"size":0,"status":504,"resp_headers":{"Server":["Caddy"]}}
//! ```
//!
//! `ts` is seconds since the epoch (or a string with a custom `time_format`), `duration`
//! seconds; Caddy before 2.5 wrote `remote_addr` (`ip:port`) instead of `remote_ip`. When the
//! proxy fails, Caddy also writes an error entry with the same request, the status it answered
//! and Go's error text as the message (logger `http.log.error`):
//! `"msg":"dial tcp 127.0.0.1:8000: connect: connection refused", …, "status":502,"err_id":…`,
//! and the `http.handlers.reverse_proxy` logger reports failures with `upstream` and `error`
//! fields (`"msg":"aborting with incomplete response","upstream":"127.0.0.1:8000"`). Those are
//! read as [`RecordKind::UpstreamError`] records, their text in `detail`.

use std::borrow::Cow;

use serde::Deserialize;

use super::json::{bytes, present, Number};
use super::{without_port, Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::atoms::{rfc3339, Ts};

#[derive(Deserialize)]
struct CaddyJson<'a> {
    #[serde(borrow)]
    logger: Cow<'a, str>,
    #[serde(borrow, default)]
    msg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<Number<'a>>,
    #[serde(borrow, default)]
    request: Option<Request<'a>>,
    #[serde(borrow, default)]
    duration: Option<Number<'a>>,
    #[serde(borrow, default)]
    status: Option<Number<'a>>,
    #[serde(borrow, default)]
    upstream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    remote_ip: Option<Cow<'a, str>>,
    /// Caddy before 2.5: `ip:port`.
    #[serde(borrow, default)]
    remote_addr: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    headers: Option<Headers<'a>>,
}

/// The request headers the record reads (Go canonicalises their names).
#[derive(Deserialize)]
struct Headers<'a> {
    #[serde(borrow, default, rename = "X-Request-Id")]
    request_id: Option<Vec<Cow<'a, str>>>,
}

/// Go's error text from the proxy → the reason (net/http's and Caddy's own wording).
fn reason_of_error(text: &str) -> Reason {
    let has = |s: &str| text.contains(s);
    if has("connection refused") {
        Reason::ConnectionRefused
    } else if has("no upstreams available") {
        Reason::NoUpstream
    } else if has("timeout awaiting response headers")
        || has("i/o timeout")
        || has("deadline exceeded")
    {
        Reason::UpstreamTimeout
    } else if has("connection reset by peer") {
        Reason::UpstreamReset
    } else if has("context canceled") {
        Reason::ClientClosed
    } else if has("EOF") || has("incomplete response") || has("server closed") {
        Reason::UpstreamClosed
    } else {
        Reason::Other
    }
}

/// `dial tcp 127.0.0.1:8000: connect: …` → `127.0.0.1:8000`.
fn dialled(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("dial tcp ")?;
    rest.find(": ").map(|end| &rest[..end])
}

/// `ts` as seconds since the epoch, or as an RFC 3339 string (`time_format rfc3339`).
fn time_of(ts: Number<'_>) -> Option<Ts> {
    match ts {
        Number::Text(t) => rfc3339(t.as_bytes()).ok().map(|(_, t)| t),
        n => n
            .float()
            .filter(|f| *f > 0.0)
            .map(|f| Ts((f * 1e6).round() as i64)),
    }
}

/// The request's fields into `record`.
fn fill_request<'a>(record: &mut EdgeRecord<'a>, request: Request<'a>) {
    let client = present(request.client_ip)
        .or_else(|| present(request.remote_ip))
        .or_else(|| {
            present(request.remote_addr).map(|a| match a {
                Cow::Borrowed(b) => Cow::Borrowed(without_port(b)),
                Cow::Owned(o) => Cow::Owned(without_port(&o).to_vec()),
            })
        });
    record.client = client;
    record.method = present(request.method);
    record.host = present(request.host);
    record.path = present(request.uri);
    record.request_id = request
        .headers
        .and_then(|h| h.request_id)
        .and_then(|ids| ids.into_iter().next())
        .and_then(|id| present(Some(id)));
}

/// One line of Caddy's JSON log: an access entry (logger `http.log.access…`), or an error
/// entry about the upstream (logger `http.log.error…` with a status, or
/// `http.handlers.reverse_proxy` with an `error`). `None` for anything else.
pub fn caddy_json(line: &[u8]) -> Option<EdgeRecord<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let j: CaddyJson<'_> = crate::input::json_line(line).ok()?;
    let status = j.status.and_then(Number::status);
    let kind = if j.logger.starts_with("http.log.access") {
        RecordKind::Access
    } else if (j.logger.starts_with("http.log.error") && status.is_some())
        || (j.logger.starts_with("http.handlers.reverse_proxy") && j.error.is_some())
    {
        RecordKind::UpstreamError
    } else {
        return None;
    };
    let mut record = EdgeRecord::new(Edge::Caddy, kind);
    record.time = j.ts.and_then(time_of);
    if let Some(request) = j.request {
        fill_request(&mut record, request);
    }
    record.status = status;
    record.request_seconds = j.duration.and_then(Number::float).filter(|d| *d >= 0.0);
    if kind == RecordKind::Access {
        if record.method.is_none() || status.is_none() {
            return None;
        }
        // Caddy's access entry names no error: only its own statuses say one (gunicorn never
        // answers 504 or 499 itself).
        record.reason = match status {
            Some(504) => Some(Reason::UpstreamTimeout),
            Some(499) => Some(Reason::ClientClosed),
            _ => None,
        };
        return Some(record);
    }
    let text = j.error.or(j.msg)?;
    record.reason = Some(reason_of_error(&text));
    record.upstream_addr = match (j.upstream, dialled(&text)) {
        (Some(u), _) => present(Some(u)),
        (None, Some(addr)) => Some(Cow::Owned(addr.as_bytes().to_vec())),
        (None, None) => None,
    };
    record.upstream_tries = u8::from(record.upstream_addr.is_some());
    record.detail = Some(bytes(text));
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::text;

    #[test]
    fn access_entry_of_a_timeout() {
        let line = br#"{"level":"info","ts":1795837621.524,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"172.18.0.1","remote_port":"41342","client_ip":"10.0.0.5","proto":"HTTP/1.1","method":"GET","host":"shop.example.com","uri":"/slow/?n=1","headers":{"User-Agent":["curl/8.5.0"],"X-Request-Id":["b2c9d6a0-1f3e-4a57-9c1d-0e8f7a6b5c4d"]}},"bytes_read":0,"user_id":"","duration":30.0012,"size":0,"status":504,"resp_headers":{"Server":["Caddy"]}}"#;
        let r = caddy_json(line).unwrap();
        assert_eq!((r.edge, r.kind), (Edge::Caddy, RecordKind::Access));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:01.524Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.path), Some("/slow/?n=1"));
        assert_eq!(text(&r.host), Some("shop.example.com"));
        assert_eq!(text(&r.client), Some("10.0.0.5"));
        assert_eq!((r.status, r.upstream_status), (Some(504), None));
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!(
            (r.upstream_seconds, r.request_seconds),
            (None, Some(30.0012))
        );
        assert_eq!(
            text(&r.request_id),
            Some("b2c9d6a0-1f3e-4a57-9c1d-0e8f7a6b5c4d")
        );
        assert_eq!((r.reason, r.detail), (Some(Reason::UpstreamTimeout), None));
    }

    #[test]
    fn access_entry_served_and_old_remote_addr() {
        let line = br#"{"level":"info","ts":"2026-11-28T03:47:05.250Z","logger":"http.log.access","msg":"handled request","request":{"remote_addr":"10.0.0.6:50211","proto":"HTTP/2.0","method":"POST","host":"shop.example.com","uri":"/pay/","headers":{}},"duration":0.081,"size":17,"status":200}"#;
        let r = caddy_json(line).unwrap();
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:05.250Z");
        assert_eq!(text(&r.client), Some("10.0.0.6"));
        assert_eq!(
            (r.status, r.reason, r.request_id.clone()),
            (Some(200), None, None)
        );
    }

    #[test]
    fn error_entries_name_the_upstream_failure() {
        let refused = br#"{"level":"error","ts":1795837622.001,"logger":"http.log.error.log0","msg":"dial tcp 127.0.0.1:8000: connect: connection refused","request":{"remote_ip":"10.0.0.5","remote_port":"41350","proto":"HTTP/1.1","method":"GET","host":"shop.example.com","uri":"/","headers":{}},"duration":0.0009,"status":502,"err_id":"cz7f5y089","err_trace":"reverseproxy.statusError (reverseproxy.go:1269)"}"#;
        let r = caddy_json(refused).unwrap();
        assert_eq!((r.edge, r.kind), (Edge::Caddy, RecordKind::UpstreamError));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:02.001Z");
        assert_eq!((text(&r.method), text(&r.path)), (Some("GET"), Some("/")));
        assert_eq!(text(&r.client), Some("10.0.0.5"));
        assert_eq!((r.status, r.upstream_status), (Some(502), None));
        assert_eq!(text(&r.upstream_addr), Some("127.0.0.1:8000"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(r.request_seconds, Some(0.0009));
        assert_eq!(r.reason, Some(Reason::ConnectionRefused));
        assert_eq!(
            text(&r.detail),
            Some("dial tcp 127.0.0.1:8000: connect: connection refused")
        );
        let timeout = br#"{"level":"error","ts":1795837652.0,"logger":"http.log.error","msg":"net/http: timeout awaiting response headers","request":{"remote_ip":"10.0.0.5","method":"GET","host":"shop.example.com","uri":"/slow/"},"duration":30.0,"status":504}"#;
        let r = caddy_json(timeout).unwrap();
        assert_eq!(
            (r.reason, r.upstream_addr.clone()),
            (Some(Reason::UpstreamTimeout), None)
        );
        let aborted = br#"{"level":"error","ts":1795837660.5,"logger":"http.handlers.reverse_proxy","msg":"aborting with incomplete response","upstream":"127.0.0.1:8000","duration":0.4,"request":{"remote_ip":"10.0.0.5","method":"GET","host":"shop.example.com","uri":"/big/"},"error":"reading: unexpected EOF"}"#;
        let r = caddy_json(aborted).unwrap();
        assert_eq!(r.kind, RecordKind::UpstreamError);
        assert_eq!(text(&r.upstream_addr), Some("127.0.0.1:8000"));
        assert_eq!((r.status, r.reason), (None, Some(Reason::UpstreamClosed)));
        assert_eq!(text(&r.detail), Some("reading: unexpected EOF"));
        let none = br#"{"level":"error","ts":1795837661,"logger":"http.log.error","msg":"no upstreams available","request":{"method":"GET","uri":"/"},"status":503}"#;
        assert_eq!(caddy_json(none).unwrap().reason, Some(Reason::NoUpstream));
    }

    #[test]
    fn other_lines_are_not_caddy_requests() {
        // Caddy's own startup line, a debug round trip without error, an app's JSON line.
        assert!(caddy_json(br#"{"level":"info","ts":1795837600.1,"logger":"http","msg":"server running","name":"srv0","protocols":["h1","h2","h3"]}"#).is_none());
        assert!(caddy_json(br#"{"level":"debug","ts":1795837601.2,"logger":"http.handlers.reverse_proxy","msg":"upstream roundtrip","upstream":"127.0.0.1:8000","duration":0.01,"status":200}"#).is_none());
        assert!(caddy_json(br#"{"message":"GET /ok","status":200,"method":"GET"}"#).is_none());
        // Traefik's and Google Cloud's access entries.
        assert!(caddy_json(br#"{"DownstreamStatus":502,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/","msg":"","level":"info"}"#).is_none());
        assert!(caddy_json(br#"{"httpRequest":{"requestMethod":"GET","status":200},"jsonPayload":{"statusDetails":"response_sent_by_backend"}}"#).is_none());
        assert!(caddy_json(br#"{"level":"info","ts":1795837621.524,"logger":"http.log.access.log0","msg":"handled request","request":{"method":"GET""#).is_none());
        assert!(
            caddy_json(b"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] \"GET / HTTP/1.1\" 200 3")
                .is_none()
        );
    }
}
