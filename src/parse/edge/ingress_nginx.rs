//! ingress-nginx, the Kubernetes ingress controller built on nginx: its access lines in the
//! controller's default `upstreaminfo` format.
//!
//! Where plain nginx's `combined` line says only what the user got, `upstreaminfo` also says
//! which pod(s) nginx tried, what each answered and how long each took, and carries the
//! request id nginx generated (`$req_id`, sent upstream as `X-Request-ID`), the key to the app's
//! side of the same request. The controller's error lines are nginx's own and are read by
//! [`super::nginx::nginx_upstream_error`].

use std::borrow::Cow;

use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char;
use nom::Parser;

use super::nginx::combined_fields;
use super::{seconds, Edge, EdgeRecord, Reason};
use crate::parse::atoms::no_match;
use crate::parse::atoms::{token, PResult};

/// An ingress-nginx access line in the controller's default `log-format-upstream`
/// (`upstreaminfo`), as its docs give it:
///
/// ```text
/// log_format upstreaminfo
///     '$remote_addr - $remote_user [$time_local] "$request" '
///     '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
///     '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr '
///     '$upstream_response_length $upstream_response_time $upstream_status $req_id';
/// ```
///
/// e.g. `192.168.49.1 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504 160 "-"
/// "curl/8.5.0" 79 60.002 [shop-web-8000] [] 10.244.0.12:8000 0 60.001 504
/// 3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60`.
///
/// When nginx tried several upstreams, each `$upstream_*` variable lists every try, separated
/// by `, ` (and by ` : ` across an internal redirect): `10.244.0.12:8000, 10.244.0.13:8000 0,
/// 612 30.001, 0.012 504, 200`. `$req_id` is always 32 hex digits; a line whose last field is
/// not is not read (it was cut). The record keeps the whole address list as written, counts the
/// tries, and takes the last try's time and status. `-` is "none": a request nginx answered
/// itself (no ready endpoint, a redirect) has `-` for all four.
///
/// Reasons: 499 is [`Reason::ClientClosed`]; a 503 with no upstream address is
/// [`Reason::NoUpstream`] (no ready endpoint behind the service). What happened to a request
/// that did reach a pod is told by the controller's error line of the same request, not here.
/// The format has no host; `$proxy_upstream_name` is kept as `upstream_name`. Lines in the
/// older default without `[$proxy_alternative_upstream_name]` are not read.
pub fn ingress_nginx_upstreaminfo(i: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let (i, mut rec) = combined_fields(i, Edge::IngressNginx)?;
    let (i, (_, _request_length, _, request_time, _, upstream_name, _, _alternative)) = (
        char(' '),
        take_while1(|c: u8| c.is_ascii_digit()),
        char(' '),
        token,
        char(' '),
        bracketed,
        char(' '),
        bracketed,
    )
        .parse(i)?;
    let (i, (_, addrs, _, _lengths, _, times, _, statuses, _, req_id)) = (
        char(' '),
        tries,
        char(' '),
        tries,
        char(' '),
        tries,
        char(' '),
        tries,
        char(' '),
        token,
    )
        .parse(i)?;
    let Some(request_seconds) = seconds(request_time) else {
        return no_match(request_time);
    };
    rec.request_seconds = Some(request_seconds);
    rec.upstream_name = (!upstream_name.is_empty()).then_some(Cow::Borrowed(upstream_name));
    if addrs.all != b"-" {
        rec.upstream_addr = Some(Cow::Borrowed(addrs.all));
        rec.upstream_tries = addrs.count;
    }
    rec.upstream_seconds = seconds(times.last);
    rec.upstream_status = std::str::from_utf8(statuses.last)
        .ok()
        .and_then(|s| s.parse::<u16>().ok());
    // `$req_id` is 16 random bytes in hex: anything else is a cut or another format's field.
    if req_id.len() != 32 || !req_id.iter().all(u8::is_ascii_hexdigit) {
        return no_match(req_id);
    }
    rec.request_id = Some(Cow::Borrowed(req_id));
    if rec.status == Some(503) && rec.upstream_addr.is_none() {
        rec.reason = Some(Reason::NoUpstream);
    }
    Ok((i, rec))
}

/// `[name]`, possibly empty (`[]`), → its inside.
fn bracketed(i: &[u8]) -> PResult<'_, &[u8]> {
    let (i, (_, name, _)) = (char('['), take_while(|c: u8| c != b']'), char(']')).parse(i)?;
    Ok((i, name))
}

/// One `$upstream_*` value over all tries: `10.0.0.1:8000, 10.0.0.2:8000 : 10.0.0.3:8000`.
struct Tries<'a> {
    /// The whole list as written.
    all: &'a [u8],
    count: u8,
    /// The last try's value.
    last: &'a [u8],
}

/// One try's value: no space, no comma (`10.244.0.12:8000`, `[fd00::1]:8000`, `504`, `-`).
fn try_value(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|c: u8| c != b' ' && c != b',').parse(i)
}

fn tries(start: &[u8]) -> PResult<'_, Tries<'_>> {
    let (mut i, mut last) = try_value(start)?;
    let mut count = 1u8;
    loop {
        let separator = if i.starts_with(b", ") {
            2
        } else if i.starts_with(b" : ") {
            3
        } else {
            break;
        };
        let Ok((j, value)) = try_value(&i[separator..]) else {
            break;
        };
        (i, last) = (j, value);
        count = count.saturating_add(1);
    }
    let all = &start[..start.len() - i.len()];
    Ok((i, Tries { all, count, last }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::{at, b};
    use crate::parse::edge::RecordKind;

    #[test]
    fn answered_by_one_pod() {
        let line = br#"192.168.49.1 - - [28/Nov/2026:03:46:52 +0000] "GET /orders/?page=2 HTTP/1.1" 200 612 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)" 412 0.013 [shop-web-8000] [] 10.244.0.12:8000 612 0.012 200 9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"#;
        let (rest, rec) = ingress_nginx_upstreaminfo(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 46, 52),
            method: b("GET"),
            path: b("/orders/?page=2"),
            client: b("192.168.49.1"),
            status: Some(200),
            upstream_status: Some(200),
            upstream_addr: b("10.244.0.12:8000"),
            upstream_tries: 1,
            upstream_seconds: Some(0.012),
            request_seconds: Some(0.013),
            request_id: b("9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"),
            upstream_name: b("shop-web-8000"),
            ..EdgeRecord::new(Edge::IngressNginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn timed_out_on_one_pod_then_answered_by_another() {
        let line = br#"192.168.49.1 - - [28/Nov/2026:03:47:31 +0000] "POST /api/orders HTTP/1.1" 200 48 "-" "python-requests/2.32.3" 233 30.015 [shop-web-8000] [shop-canary-8000] 10.244.0.12:8000, 10.244.0.13:8000 0, 48 30.001, 0.014 504, 200 3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60"#;
        let (rest, rec) = ingress_nginx_upstreaminfo(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 47, 31),
            method: b("POST"),
            path: b("/api/orders"),
            client: b("192.168.49.1"),
            status: Some(200),
            upstream_status: Some(200),
            upstream_addr: b("10.244.0.12:8000, 10.244.0.13:8000"),
            upstream_tries: 2,
            upstream_seconds: Some(0.014),
            request_seconds: Some(30.015),
            request_id: b("3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60"),
            upstream_name: b("shop-web-8000"),
            ..EdgeRecord::new(Edge::IngressNginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn gateway_timeout_after_three_tries_and_a_redirect_group() {
        let line = br#"10.0.0.5 - - [28/Nov/2026:03:48:31 +0000] "GET /slow/ HTTP/1.1" 504 160 "-" "curl/8.5.0" 79 60.004 [shop-web-8000] [] 10.244.0.12:8000, 10.244.0.13:8000 : [fd00::7]:8000 0, 0 : 0 20.001, 20.002 : 20.001 504, 504 : 504 0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"#;
        let (rest, rec) = ingress_nginx_upstreaminfo(line).unwrap();
        assert_eq!(rest, b"");
        assert_eq!(
            rec.upstream_addr,
            b("10.244.0.12:8000, 10.244.0.13:8000 : [fd00::7]:8000")
        );
        assert_eq!(
            (
                rec.status,
                rec.upstream_status,
                rec.upstream_tries,
                rec.upstream_seconds,
                rec.reason
            ),
            (Some(504), Some(504), 3, Some(20.001), None)
        );
    }

    #[test]
    fn no_ready_endpoint() {
        // The incident's own line: the ingress answered 503 itself, no pod was tried.
        let line = br#"203.0.113.7 - - [28/Nov/2026:03:46:58 +0000] "GET /admin/ HTTP/2.0" 503 190 "-" "curl/8.5.0" 38 0.000 [shop-web-8000] [] - - - - 6d1f0e2c4b3a59788a7b6c5d4e3f2a1b"#;
        let (rest, rec) = ingress_nginx_upstreaminfo(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 46, 58),
            method: b("GET"),
            path: b("/admin/"),
            client: b("203.0.113.7"),
            status: Some(503),
            request_seconds: Some(0.0),
            request_id: b("6d1f0e2c4b3a59788a7b6c5d4e3f2a1b"),
            reason: Some(Reason::NoUpstream),
            upstream_name: b("shop-web-8000"),
            ..EdgeRecord::new(Edge::IngressNginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn client_closed_and_trailing_fields_left_over() {
        let line = br#"10.0.0.5 - - [28/Nov/2026:03:49:00 +0000] "GET /slow/ HTTP/1.1" 499 0 "-" "curl/8.5.0" 79 12.345 [shop-web-8000] [] 10.244.0.12:8000 0 12.344 - 0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f extra"#;
        let (rest, rec) = ingress_nginx_upstreaminfo(line).unwrap();
        assert_eq!(rest, b" extra");
        assert_eq!(
            (
                rec.status,
                rec.upstream_status,
                rec.upstream_seconds,
                rec.reason
            ),
            (Some(499), None, Some(12.344), Some(Reason::ClientClosed))
        );
    }

    #[test]
    fn rejects_other_lines() {
        for line in [
            // gunicorn's default access line and nginx's combined: no upstream fields.
            &br#"10.244.0.12 - - [28/Nov/2026:03:46:52 +0000] "GET /orders/ HTTP/1.1" 200 612 "-" "Mozilla/5.0""#[..],
            // The older default without the alternative upstream's brackets.
            br#"192.168.49.1 - - [28/Nov/2026:03:46:52 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0" 412 0.013 [shop-web-8000] 10.244.0.12:8000 612 0.012 200 9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"#,
            // Cut before the request id, and a request time that is not one.
            br#"192.168.49.1 - - [28/Nov/2026:03:46:52 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0" 412 0.013 [shop-web-8000] [] 10.244.0.12:8000 612 0.012 200"#,
            br#"192.168.49.1 - - [28/Nov/2026:03:46:52 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0" 412 fast [shop-web-8000] [] 10.244.0.12:8000 612 0.012 200 9f2c"#,
            b"I1128 03:46:52.000000       7 controller.go:190] \"Backend successfully reloaded\"",
            b"garbage",
        ] {
            assert!(
                ingress_nginx_upstreaminfo(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn every_cut_of_a_real_line_is_an_error_or_a_record() {
        let line = br#"192.168.49.1 - - [28/Nov/2026:03:47:31 +0000] "POST /api/orders HTTP/1.1" 200 48 "-" "python-requests/2.32.3" 233 30.015 [shop-web-8000] [] 10.244.0.12:8000, 10.244.0.13:8000 0, 48 30.001, 0.014 504, 200 3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60"#;
        for cut in 0..line.len() {
            assert!(ingress_nginx_upstreaminfo(&line[..cut]).is_err(), "{cut}");
        }
    }
}
