//! AWS Application Load Balancer access-log entries, one request per line as the log files in
//! S3 hold them.
//!
//! The Elastic Load Balancing guide ("Access logs for your Application Load Balancer") gives
//! the space-separated fields, in order:
//!
//! ```text
//! type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//! "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
//! "redirect_url" "error_reason" "target:port_list" "target_status_code_list"
//! "classification" "classification_reason" conn_trace_id
//! ```
//!
//! `time` is when the load balancer answered the client; the request is `METHOD
//! scheme://host:port/uri PROTO`. When the target never answered, `target_status_code` is `-`
//! and the processing times are `-1` (and `target:port` is `-` when no target was chosen); the
//! load balancer's own status then says what happened: 504 the target did not answer in the
//! idle timeout, 503 no registered or healthy target, 502 the connection failed or the target
//! closed it, 460 the client closed first. `error_reason` names the failure where ALB gives one.
//! The fields after `trace_id` came in later versions, so they are optional here; everything
//! after `target_status_code_list` is left unread.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::combinator::{opt, verify};
use nom::Parser;

use super::{seconds, without_port, Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::atoms::{http_method, quoted, rfc3339, spaces, status_code, token, PResult};

/// `-` or a field's value.
fn dash(field: &[u8]) -> Option<&[u8]> {
    (!field.is_empty() && field != b"-").then_some(field)
}

/// A processing time as written: `0.001`, `-1`.
fn processing_time(i: &[u8]) -> PResult<'_, &[u8]> {
    verify(token, |t: &[u8]| {
        t.iter()
            .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-')
    })
    .parse(i)
}

/// A status code or `-`.
fn status_or_dash(i: &[u8]) -> PResult<'_, Option<u16>> {
    alt((status_code.map(Some), tag("-").map(|_| None))).parse(i)
}

/// `https://shop.example.com:443/slow/?n=1` → (`shop.example.com`, `/slow/?n=1`): the host
/// without its port, the path with its query (`/` when the URL has none).
pub(crate) fn host_and_path(url: &[u8]) -> Option<(&[u8], &[u8])> {
    let after_scheme = &url[memchr::memmem::find(url, b"://")? + 3..];
    let slash = memchr::memchr(b'/', after_scheme).unwrap_or(after_scheme.len());
    let (host, path) = after_scheme.split_at(slash);
    let host = match memchr::memrchr(b':', host) {
        Some(colon) if !host[..colon].contains(&b':') => &host[..colon],
        _ => host,
    };
    Some((host, if path.is_empty() { b"/" } else { path }))
}

/// `GET https://shop.example.com:443/slow/?n=1 HTTP/1.1` → (method, host, path).
fn absolute_request(r: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (rest, (method, _)) = (http_method, tag(" ")).parse(r).ok()?;
    let url = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
    let (host, path) = host_and_path(url)?;
    Some((method, host, path))
}

/// The fields after `trace_id`, to `target_status_code_list`: (error_reason, target list).
fn later_fields(i: &[u8]) -> PResult<'_, (&[u8], &[u8])> {
    let (i, (_, _domain, _, _cert, _, _priority, _, _created, _, _actions, _, _redirect)) = (
        spaces, quoted, spaces, quoted, spaces, token, spaces, token, spaces, quoted, spaces,
        quoted,
    )
        .parse(i)?;
    let (i, (_, error_reason, _, targets, _, _target_statuses)) =
        (spaces, quoted, spaces, quoted, spaces, quoted).parse(i)?;
    Ok((i, (error_reason, targets)))
}

/// One ALB access-log entry.
pub fn aws_alb(line: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let (i, (_, _, time, _, _elb, _, client, _, target, _)) = (
        verify(token, |t: &[u8]| {
            matches!(t, b"http" | b"https" | b"h2" | b"grpcs" | b"ws" | b"wss")
        }),
        spaces,
        rfc3339,
        spaces,
        token,
        spaces,
        token,
        spaces,
        token,
        spaces,
    )
        .parse(line)?;
    let (i, (request_t, _, target_t, _, response_t, _, elb_status, _, target_status, _)) = (
        processing_time,
        spaces,
        processing_time,
        spaces,
        processing_time,
        spaces,
        status_code,
        spaces,
        status_or_dash,
        spaces,
    )
        .parse(i)?;
    let (i, (_received, _, _sent, _, request, _, _agent, _, _cipher, _, _protocol, _, _tg)) = (
        token, spaces, token, spaces, quoted, spaces, quoted, spaces, token, spaces, token, spaces,
        token,
    )
        .parse(i)?;
    let (i, (_, trace_id)) = (spaces, quoted).parse(i)?;
    let (i, later) = opt(later_fields).parse(i)?;
    let mut record = EdgeRecord::new(Edge::AwsAlb, RecordKind::Access);
    record.time = Some(time);
    if let Some((method, host, path)) = absolute_request(request) {
        record.method = Some(Cow::Borrowed(method));
        record.host = Some(Cow::Borrowed(host));
        record.path = Some(Cow::Borrowed(path));
    }
    let client = without_port(client);
    record.client = Some(Cow::Borrowed(client));
    record.status = Some(elb_status);
    record.upstream_status = target_status;
    let target = dash(target);
    record.upstream_addr = target.map(Cow::Borrowed);
    let listed = later
        .and_then(|(_, list)| dash(list))
        .map_or(0, |list| list.split(|c| *c == b' ').count());
    record.upstream_tries = u8::try_from(listed.max(usize::from(target.is_some()))).unwrap_or(1);
    record.upstream_seconds = seconds(target_t);
    record.request_seconds = match (seconds(request_t), seconds(target_t), seconds(response_t)) {
        (Some(a), Some(b), Some(c)) => Some(a + b + c),
        _ => None,
    };
    record.request_id = dash(trace_id).map(Cow::Borrowed);
    record.detail = later
        .and_then(|(reason, _)| dash(reason))
        .map(Cow::Borrowed);
    if target_status.is_none() {
        record.reason = match elb_status {
            504 => Some(Reason::UpstreamTimeout),
            503 => Some(Reason::NoUpstream),
            460 => Some(Reason::ClientClosed),
            500..=599 => Some(Reason::Other),
            _ => None,
        };
    }
    Ok((i, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::text;

    #[test]
    fn an_answered_request() {
        let line = br#"https 2026-11-28T03:47:01.186641Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2817 10.0.1.15:8000 0.000 0.081 0.000 200 200 312 5120 "GET https://shop.example.com:443/orders/?page=2 HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/73e2d6bc24d8a067 "Root=1-6748e7b5-36d228ad5d99923122bbe354" "shop.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2026-11-28T03:47:01.105000Z "forward" "-" "-" "10.0.1.15:8000" "200" "-" "-" TID_1a2b3c4d5e6f"#;
        let (rest, r) = aws_alb(line).unwrap();
        assert_eq!(rest, br#" "-" "-" TID_1a2b3c4d5e6f"#);
        assert_eq!((r.edge, r.kind), (Edge::AwsAlb, RecordKind::Access));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:01.186Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.host), Some("shop.example.com"));
        assert_eq!(text(&r.path), Some("/orders/?page=2"));
        assert_eq!(text(&r.client), Some("203.0.113.7"));
        assert_eq!((r.status, r.upstream_status), (Some(200), Some(200)));
        assert_eq!(text(&r.upstream_addr), Some("10.0.1.15:8000"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(r.upstream_seconds, Some(0.081));
        assert_eq!(r.request_seconds, Some(0.081));
        assert_eq!(
            text(&r.request_id),
            Some("Root=1-6748e7b5-36d228ad5d99923122bbe354")
        );
        assert_eq!((r.reason, r.detail), (None, None));
    }

    #[test]
    fn the_target_never_answered() {
        // gunicorn's worker hung past the ALB's idle timeout (60 s): 504, target status `-`.
        let timeout = br#"http 2026-11-28T03:48:11.000312Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2820 10.0.1.15:8000 -1 -1 -1 504 - 298 386 "GET http://shop.example.com:80/slow/ HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/73e2d6bc24d8a067 "Root=1-6748e7c3-0a1b2c3d4e5f60718293a4b5" "-" "-" 0 2026-11-28T03:47:11.000100Z "forward" "-" "-" "10.0.1.15:8000" "-" "-" "-" TID_9f8e7d6c"#;
        let (_, r) = aws_alb(timeout).unwrap();
        assert_eq!((r.status, r.upstream_status), (Some(504), None));
        assert_eq!((r.upstream_seconds, r.request_seconds), (None, None));
        assert_eq!(text(&r.path), Some("/slow/"));
        assert_eq!(
            (r.reason, r.detail.clone()),
            (Some(Reason::UpstreamTimeout), None)
        );
        // No healthy target: 503, no target at all.
        let none = br#"https 2026-11-28T03:49:00.500000Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2830 - -1 -1 -1 503 - 120 291 "GET https://shop.example.com:443/ HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-6748e804-5b6c7d8e9f00112233445566" "shop.example.com" "session-reused" 0 2026-11-28T03:49:00.499000Z "forward" "-" "-" "-" "-" "-" "-" TID_0a"#;
        let (_, r) = aws_alb(none).unwrap();
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!(r.reason, Some(Reason::NoUpstream));
        // A refused connection, with an error reason; an entry without the later fields.
        let refused = br#"http 2026-11-28T03:49:30.000000Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2840 10.0.1.15:8000 0.000 -1 -1 502 - 120 277 "POST http://shop.example.com:80/login/ HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/73e2d6bc24d8a067 "Root=1-6748e822-aa" "-" "-" 0 2026-11-28T03:49:29.999000Z "forward" "-" "TargetConnectionErrorCode" "10.0.1.15:8000 10.0.1.16:8000" "- -" "-" "-" TID_0b"#;
        let (_, r) = aws_alb(refused).unwrap();
        assert_eq!(r.upstream_tries, 2);
        assert_eq!(r.reason, Some(Reason::Other));
        assert_eq!(text(&r.detail), Some("TargetConnectionErrorCode"));
        let short = br#"http 2026-11-28T03:49:31.000000Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2841 10.0.1.15:8000 0.000 0.002 0.000 404 404 120 277 "GET http://shop.example.com:80/nope HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/73e2d6bc24d8a067 "Root=1-6748e823-bb""#;
        let (rest, r) = aws_alb(short).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            (r.status, r.upstream_status, r.detail),
            (Some(404), Some(404), None)
        );
    }

    #[test]
    fn other_lines_are_not_alb_entries() {
        let gunicorn = br#"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] "GET /ok HTTP/1.1" 200 3 "-" "curl/8.5""#;
        assert!(aws_alb(gunicorn).is_err());
        // A classic ELB entry has no type field.
        let classic = br#"2026-11-28T03:47:01.186641Z shop-elb 203.0.113.7:2817 10.0.1.15:8000 0.000 0.081 0.000 200 200 0 57 "GET https://shop.example.com:443/ HTTP/1.1" "curl/8.5.0" - -"#;
        assert!(aws_alb(classic).is_err());
        let cut = br#"http 2026-11-28T03:48:11.000312Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2820 10.0.1.15:8000 -1 -1 -1 504 - 298 386 "GET http://shop.example.com:80/slow/ HTTP/1.1" "curl/8.5.0" - -"#;
        assert!(aws_alb(cut).is_err());
        assert!(aws_alb(b"http garbage").is_err());
        // Traefik's CLF line and HAProxy's.
        assert!(aws_alb(br#"192.168.1.10 - - [28/Nov/2026:03:47:01 +0000] "GET / HTTP/1.1" 200 5120 "-" "curl/8.5.0" 42 "app@docker" "http://172.18.0.3:8000" 37ms"#).is_err());
        assert!(aws_alb(br#"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1""#).is_err());
    }
}
