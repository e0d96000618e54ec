//! Traefik's access log, in its two formats: the default Common Log Format and JSON.
//!
//! Traefik's documentation ("Access Logs") gives the CLF line as
//!
//! ```text
//! <remote_IP_address> - <client_user_name_if_available> [<timestamp>] "<request_method>
//! <request_path> <request_protocol>" <HTTP_status> <content-length> "<request_referrer>"
//! "<request_user_agent>" <number_of_requests_received_since_Traefik_started>
//! "<Traefik_router_name>" "<Traefik_server_URL>" <request_duration_in_ms>ms
//! ```
//!
//! (`<origin_server_HTTP_status>` in the v2 pages; Traefik writes the status the client got).
//! The timestamp is when the request started. With `format: json` each line is one object
//! whose keys are the access-log field names: `ClientHost`, `RequestMethod`, `RequestPath`,
//! `RequestHost`, `DownstreamStatus` (what the client got), `OriginStatus` (what the service
//! answered; `0` when it never answered), `OriginDuration` and `Duration` (nanoseconds),
//! `ServiceAddr` / `ServiceURL`, `RetryAttempts`, `RequestCount`, `StartUTC`, `time`, and the
//! request headers kept by `fields.headers` as `request_<Header-Name>` (`request_X-Request-Id`).
//!
//! Traefik's access log names no error, so the reason comes from its own statuses: 504 (its
//! `responseHeaderTimeout` passed) is a timeout, 499 the client going away, 503 with no server
//! no upstream; in JSON, a 502 whose origin never answered is a failure of another kind.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::combinator::recognize;
use nom::Parser;
use serde::Deserialize;

use super::json::{bytes, present, Number};
use super::{Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::access::request_line;
use crate::parse::atoms::no_match;
use crate::parse::atoms::{
    access_log_time, number, quoted, rfc3339, spaces, status_code, token, PResult,
};

/// What the status the client got says when nothing tells whether the service answered:
/// only Traefik's own statuses count (gunicorn never answers 499 or 504 itself).
fn reason_of_status(status: u16, has_server: bool) -> Option<Reason> {
    match status {
        504 => Some(Reason::UpstreamTimeout),
        499 => Some(Reason::ClientClosed),
        503 if !has_server => Some(Reason::NoUpstream),
        _ => None,
    }
}

/// A `"…"` field, `None` for `"-"`.
fn quoted_or_dash(i: &[u8]) -> PResult<'_, Option<&[u8]>> {
    let (i, q) = quoted(i)?;
    Ok((i, (!q.is_empty() && q != b"-").then_some(q)))
}

/// One line of Traefik's default (CLF) access log.
pub fn traefik_clf(line: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let (i, (client, _, _, _, _user, _, time, _, request, _, status, _)) = (
        token,
        spaces,
        tag("-"),
        spaces,
        token,
        spaces,
        access_log_time,
        spaces,
        quoted,
        spaces,
        status_code,
        spaces,
    )
        .parse(line)?;
    let (i, (_size, _, _referer, _, _agent, _, _count, _, _router, _, server, _)) = (
        alt((recognize(number), tag("-"))),
        spaces,
        quoted,
        spaces,
        quoted,
        spaces,
        number,
        spaces,
        quoted,
        spaces,
        quoted_or_dash,
        spaces,
    )
        .parse(i)?;
    let (i, (millis, _)) = (number, tag("ms")).parse(i)?;
    let Some((method, path)) = request_line(request) else {
        return no_match(request);
    };
    let mut record = EdgeRecord::new(Edge::Traefik, RecordKind::Access);
    record.time = Some(time);
    record.started = true;
    record.method = Some(Cow::Borrowed(method));
    record.path = Some(Cow::Borrowed(path));
    record.client = Some(Cow::Borrowed(client));
    record.status = Some(status);
    record.upstream_addr = server.map(Cow::Borrowed);
    record.upstream_tries = u8::from(server.is_some());
    record.request_seconds = Some(f64::from(millis) / 1000.0);
    record.reason = reason_of_status(status, server.is_some());
    Ok((i, record))
}

/// The fields of a Traefik JSON access-log line that the record needs.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct TraefikJson<'a> {
    #[serde(borrow)]
    RequestMethod: Cow<'a, str>,
    #[serde(borrow)]
    DownstreamStatus: Number<'a>,
    #[serde(borrow, default)]
    RequestPath: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    RequestHost: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ClientHost: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    OriginStatus: Option<Number<'a>>,
    #[serde(borrow, default)]
    OriginDuration: Option<Number<'a>>,
    #[serde(borrow, default)]
    Duration: Option<Number<'a>>,
    #[serde(borrow, default)]
    ServiceAddr: Option<Cow<'a, str>>,
    /// A string in some versions, a Go `url.URL` object in others (ignored then).
    #[serde(borrow, default)]
    ServiceURL: Option<UrlField<'a>>,
    #[serde(borrow, default)]
    RetryAttempts: Option<Number<'a>>,
    #[serde(borrow, default)]
    StartUTC: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "request_X-Request-Id")]
    request_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UrlField<'a> {
    #[serde(borrow)]
    Text(Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

/// Nanoseconds to seconds.
fn nanos(n: Option<Number<'_>>) -> Option<f64> {
    n.and_then(Number::float)
        .filter(|n| *n >= 0.0)
        .map(|n| n / 1e9)
}

/// One line of Traefik's JSON access log (`accessLog.format: json`); `None` for anything else
/// (it needs `RequestMethod` and `DownstreamStatus`).
pub fn traefik_json(line: &[u8]) -> Option<EdgeRecord<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let j: TraefikJson<'_> = crate::input::json_line(line).ok()?;
    let status = j.DownstreamStatus.status()?;
    let origin = j.OriginStatus.and_then(Number::status);
    let url = match j.ServiceURL {
        Some(UrlField::Text(t)) => Some(t),
        _ => None,
    };
    let server = present(j.ServiceAddr).or_else(|| present(url));
    let started = j.time.is_none() && j.StartUTC.is_some();
    let time = j.time.or(j.StartUTC);
    let mut record = EdgeRecord::new(Edge::Traefik, RecordKind::Access);
    record.started = started;
    record.time = time.and_then(|t| rfc3339(t.as_bytes()).ok().map(|r| r.1));
    record.method = Some(bytes(j.RequestMethod));
    record.path = present(j.RequestPath);
    record.host = present(j.RequestHost);
    record.client = present(j.ClientHost);
    record.status = Some(status);
    record.upstream_status = origin;
    record.upstream_tries = match &server {
        Some(_) => {
            let retries = j.RetryAttempts.and_then(Number::float).unwrap_or(0.0);
            (retries.clamp(0.0, 254.0) as u8) + 1
        }
        None => 0,
    };
    record.upstream_seconds = nanos(j.OriginDuration).filter(|_| server.is_some());
    record.upstream_addr = server;
    record.request_seconds = nanos(j.Duration);
    record.request_id = present(j.request_id);
    record.reason = match (origin, status) {
        (_, 499) => Some(Reason::ClientClosed),
        (Some(_), _) => None,
        (None, 502) => Some(Reason::Other),
        (None, s) => reason_of_status(s, record.upstream_addr.is_some()),
    };
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::text;

    #[test]
    fn clf_line_of_a_served_request() {
        let line = br#"192.168.1.10 - - [28/Nov/2026:03:47:01 +0000] "GET /orders/?page=2 HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64)" 42 "app@docker" "http://172.18.0.3:8000" 37ms"#;
        let (rest, r) = traefik_clf(line).unwrap();
        assert!(rest.is_empty());
        assert_eq!((r.edge, r.kind), (Edge::Traefik, RecordKind::Access));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:01.000Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.path), Some("/orders/?page=2"));
        assert_eq!(r.host, None);
        assert_eq!(text(&r.client), Some("192.168.1.10"));
        assert_eq!((r.status, r.upstream_status), (Some(200), None));
        assert_eq!(text(&r.upstream_addr), Some("http://172.18.0.3:8000"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!((r.upstream_seconds, r.request_seconds), (None, Some(0.037)));
        assert_eq!((r.request_id, r.reason, r.detail), (None, None, None));
    }

    #[test]
    fn clf_timeout_and_no_server() {
        let timeout = br#"10.0.0.5 - alice [28/Nov/2026:03:48:10 +0000] "POST /slow/ HTTP/2.0" 504 15 "https://shop.example.com/" "curl/8.5.0" 43 "app@docker" "http://172.18.0.3:8000" 30001ms rest"#;
        let (rest, r) = traefik_clf(timeout).unwrap();
        assert_eq!(rest, b" rest");
        assert_eq!((r.status, r.request_seconds), (Some(504), Some(30.001)));
        assert_eq!(r.reason, Some(Reason::UpstreamTimeout));
        let none = br#"10.0.0.5 - - [28/Nov/2026:03:49:00 +0000] "GET / HTTP/1.1" 503 19 "-" "curl/8.5.0" 44 "app@docker" "-" 0ms"#;
        let (_, r) = traefik_clf(none).unwrap();
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!(r.reason, Some(Reason::NoUpstream));
        // A 502 could be the app's own: the CLF line cannot tell.
        let bad = br#"10.0.0.5 - - [28/Nov/2026:03:49:05 +0000] "GET / HTTP/1.1" 502 11 "-" "curl/8.5.0" 45 "app@docker" "http://172.18.0.3:8000" 2ms"#;
        assert_eq!(traefik_clf(bad).unwrap().1.reason, None);
    }

    #[test]
    fn json_line_of_a_timeout() {
        let line = br#"{"ClientAddr":"10.0.0.5:51234","ClientHost":"10.0.0.5","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":15,"DownstreamStatus":504,"Duration":30001234567,"OriginContentSize":0,"OriginDuration":30000987654,"OriginStatus":0,"Overhead":246913,"RequestAddr":"shop.example.com","RequestContentSize":0,"RequestCount":43,"RequestHost":"shop.example.com","RequestMethod":"GET","RequestPath":"/slow/?n=1","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"https","RetryAttempts":0,"RouterName":"app@docker","ServiceAddr":"172.18.0.3:8000","ServiceName":"app@docker","ServiceURL":"http://172.18.0.3:8000","StartLocal":"2026-11-28T03:48:10.123456789Z","StartUTC":"2026-11-28T03:48:10.123456789Z","entryPointName":"websecure","level":"info","msg":"","request_X-Request-Id":"7f9c2ba4-e88f-4c1e-9f0a-2b6d2f4c8a11","time":"2026-11-28T03:48:40Z"}"#;
        let r = traefik_json(line).unwrap();
        assert_eq!((r.edge, r.kind), (Edge::Traefik, RecordKind::Access));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:48:40.000Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.path), Some("/slow/?n=1"));
        assert_eq!(text(&r.host), Some("shop.example.com"));
        assert_eq!(text(&r.client), Some("10.0.0.5"));
        assert_eq!((r.status, r.upstream_status), (Some(504), None));
        assert_eq!(text(&r.upstream_addr), Some("172.18.0.3:8000"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(r.upstream_seconds, Some(30.000987654));
        assert_eq!(r.request_seconds, Some(30.001234567));
        assert_eq!(
            text(&r.request_id),
            Some("7f9c2ba4-e88f-4c1e-9f0a-2b6d2f4c8a11")
        );
        assert_eq!((r.reason, r.detail), (Some(Reason::UpstreamTimeout), None));
    }

    #[test]
    fn json_answered_refused_and_url_objects() {
        // The app answered 500 itself: not the edge's failure.
        let answered = br#"{"DownstreamStatus":500,"OriginStatus":500,"RequestMethod":"POST","RequestPath":"/pay/","RequestHost":"shop.example.com","ClientHost":"10.0.0.6","ServiceAddr":"172.18.0.3:8000","RetryAttempts":1,"Duration":81000000,"OriginDuration":80000000,"StartUTC":"2026-11-28T03:50:00.5Z"}"#;
        let r = traefik_json(answered).unwrap();
        assert_eq!(
            (r.status, r.upstream_status, r.reason),
            (Some(500), Some(500), None)
        );
        assert_eq!(r.upstream_tries, 2);
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:50:00.500Z");
        // Nothing listened: 502 with no origin status; ServiceURL as Go's url.URL object.
        let refused = br#"{"DownstreamStatus":502,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/","ServiceURL":{"Scheme":"http","Host":"172.18.0.3:8000"},"Duration":1200000}"#;
        let r = traefik_json(refused).unwrap();
        assert_eq!((r.upstream_status, r.reason), (None, Some(Reason::Other)));
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!((r.time, r.request_seconds), (None, Some(0.0012)));
        let gone = br#"{"DownstreamStatus":499,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/big/","ServiceAddr":"172.18.0.3:8000"}"#;
        assert_eq!(
            traefik_json(gone).unwrap().reason,
            Some(Reason::ClientClosed)
        );
    }

    #[test]
    fn other_lines_are_not_traefik() {
        let gunicorn = br#"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] "GET /ok HTTP/1.1" 200 3 "-" "curl/8.5""#;
        assert!(traefik_clf(gunicorn).is_err());
        let cut = br#"192.168.1.10 - - [28/Nov/2026:03:47:01 +0000] "GET / HTTP/1.1" 200 5120 "-" "curl/8.5.0" 42 "app@docker" "http://172.18.0.3:8000" 37"#;
        assert!(traefik_clf(cut).is_err());
        assert!(traefik_clf(
            b"time=\"2026-11-28T03:47:01Z\" level=info msg=\"Configuration loaded\""
        )
        .is_err());
        // Traefik's own JSON log, an app's JSON line, Caddy's, a cut object.
        assert!(traefik_json(br#"{"level":"error","error":"dial tcp 172.18.0.3:8000: connect: connection refused","time":"2026-11-28T03:47:01Z","message":"502 Bad Gateway"}"#).is_none());
        assert!(traefik_json(br#"{"message":"GET /ok","status":200,"method":"GET"}"#).is_none());
        assert!(traefik_json(br#"{"RequestMethod":"GET","DownstreamStatus":200"#).is_none());
        assert!(traefik_json(b"garbage").is_none());
        // The other edges' lines.
        assert!(traefik_json(br#"{"level":"info","ts":1795837621.5,"logger":"http.log.access","msg":"handled request","request":{"method":"GET","uri":"/"},"status":200}"#).is_none());
        assert!(traefik_json(br#"{"httpRequest":{"requestMethod":"GET","status":200},"jsonPayload":{"statusDetails":"response_sent_by_backend"}}"#).is_none());
        assert!(traefik_clf(br#"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1""#).is_err());
    }
}
