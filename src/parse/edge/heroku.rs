//! The Heroku router, the platform's edge in front of every web dyno: one line per request,
//! and when it failed the request, the error code that says why (`H12 Request timeout`).
//!
//! On Heroku the router's line is often the only one that says the user got an error: a dyno
//! killed mid-request, or one that has not booted, logs nothing for it. The codes are Heroku's
//! (devcenter.heroku.com/articles/error-codes); each maps to a [`Reason`], and the code with its
//! description is kept as the record's `detail`.

use std::borrow::Cow;

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use super::{Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::atoms::no_match;
use crate::parse::atoms::{quoted, rfc3339, PResult};

/// A Heroku router line as `heroku logs` prints it, logplex's time and source before the
/// router's `key=value` pairs:
///
/// ```text
/// 2026-11-28T03:47:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout"
///     method=GET path="/slow/" host=shop.herokuapp.com request_id=8601b555-6a76-4a8e-9c4b-3e1f0d2c7b9a
///     fwd="203.0.113.7" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https
/// ```
///
/// (one line). The prefix is optional: a line starting at `at=` (or `sock=`, which H18 lines
/// carry first) is read as well, without a time. Values may be quoted (`path="/"`, `fwd="..."`)
/// or not, and empty when the router never reached a dyno (`dyno= connect= service=
/// status=503 bytes=`). A line must have `at=` (`info`, `warning` or `error`), `method=`,
/// `path=` and `status=` (every router line has them; a line cut before its status is not read); the drain's RFC 5424 form (`<158>1 ... heroku router - - at=...`) is not read here.
///
/// Fields: `fwd` (the X-Forwarded-For the router saw, as written) is the client, `dyno` the
/// upstream (one try), `service` the upstream's time and `connect` + `service` the request's,
/// `request_id` the id the router sent the dyno as `X-Request-ID`. On an `at=info` line the
/// status is the dyno's own answer, passed through, so it is also the upstream status; on an
/// error line, or one with a code (H27 is `at=info ... status=499`), the router wrote it. Codes (error codes doc), as [`Reason`]:
///
/// - H10 App crashed, H14 No web dynos running → [`Reason::NoUpstream`]
/// - H12 Request timeout (30 s), H15 Idle connection, H19 Backend connection timeout →
///   [`Reason::UpstreamTimeout`]
/// - H13 Connection closed without response, H18 Server Request Interrupted →
///   [`Reason::UpstreamClosed`] (an H18 with `sock=client`, its older meaning, is
///   [`Reason::ClientClosed`])
/// - H20 App boot timeout → [`Reason::BootTimeout`]
/// - H21 Backend connection refused → [`Reason::ConnectionRefused`]
/// - H27 Client Request Interrupted, H28 Client Connection Idle → [`Reason::ClientClosed`]
/// - any other code (H11 Backlog too deep, H22, H80 Maintenance mode, H99 ...) →
///   [`Reason::Other`]
pub fn heroku_router(i: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let (i, time) = opt((rfc3339, char(' '))).parse(i)?;
    // Without its time when an envelope's reader took it (it has the shape of docker's).
    let mut i = if time.is_some() {
        tag("heroku[router]: ").parse(i)?.0
    } else {
        opt(tag("heroku[router]: ")).parse(i)?.0
    };
    let mut rec = EdgeRecord::new(Edge::HerokuRouter, RecordKind::Access);
    rec.time = time.map(|(t, _)| t);
    let (mut at, mut code, mut sock) = (None, None, None);
    let (mut connect, mut service) = (None, None);
    let (mut code_start, mut previous): (Option<&[u8]>, &[u8]) = (None, b"");
    loop {
        let (j, (key, _, value)) = (
            take_while1(|c: u8| c.is_ascii_lowercase() || c == b'_'),
            char('='),
            value,
        )
            .parse(i)?;
        let text = (!value.is_empty()).then_some(Cow::Borrowed(value));
        match key {
            b"at" => at = Some(value),
            b"sock" => sock = Some(value),
            b"code" => {
                code = (!value.is_empty()).then_some(value);
                code_start = Some(i);
                rec.detail = text;
            }
            // The description right after the code: the detail spans both as written,
            // `code=H12 desc="Request timeout"`.
            b"desc" if previous == b"code" => {
                if let Some(start) = code_start {
                    rec.detail = Some(Cow::Borrowed(&start[..start.len() - j.len()]));
                }
            }
            b"method" => rec.method = text,
            b"path" => rec.path = text,
            b"host" => rec.host = text,
            b"request_id" => rec.request_id = text,
            b"fwd" => rec.client = text,
            b"dyno" => {
                rec.upstream_tries = u8::from(text.is_some());
                rec.upstream_addr = text;
            }
            b"connect" => connect = millis(value),
            b"service" => service = millis(value),
            b"status" => {
                rec.status = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .filter(|s| (100..=599).contains(s))
            }
            _ => {}
        }
        (i, previous) = (j, key);
        match i.strip_prefix(b" ") {
            Some(next) if next.first().is_some_and(u8::is_ascii_lowercase) => i = next,
            _ => break,
        }
    }
    let at = at.filter(|a| matches!(*a, b"info" | b"warning" | b"error"));
    if at.is_none() || rec.method.is_none() || rec.path.is_none() || rec.status.is_none() {
        return no_match(i);
    }
    if at == Some(b"info") && code.is_none() {
        rec.upstream_status = rec.status;
    }
    rec.upstream_seconds = service;
    rec.request_seconds = connect.zip(service).map(|(c, s)| c + s);
    rec.reason = code.map(|c| code_reason(c, sock == Some(b"client")));
    Ok((i, rec))
}

/// A pair's value: quoted (`"Request timeout"`, inside returned), or up to the next space,
/// possibly empty (`dyno=`).
fn value(i: &[u8]) -> PResult<'_, &[u8]> {
    if i.first() == Some(&b'"') {
        quoted(i)
    } else {
        take_while(|c: u8| c != b' ').parse(i)
    }
}

/// `30000ms` → 30.0 seconds; `None` when empty or not so written.
fn millis(v: &[u8]) -> Option<f64> {
    let digits = v.strip_suffix(b"ms")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ms: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(ms as f64 / 1000.0)
}

/// What a router error code says happened (see [`heroku_router`]).
fn code_reason(code: &[u8], client_socket: bool) -> Reason {
    match code {
        b"H10" | b"H14" => Reason::NoUpstream,
        b"H12" | b"H15" | b"H19" => Reason::UpstreamTimeout,
        b"H18" if client_socket => Reason::ClientClosed,
        b"H13" | b"H18" => Reason::UpstreamClosed,
        b"H20" => Reason::BootTimeout,
        b"H21" => Reason::ConnectionRefused,
        b"H27" | b"H28" => Reason::ClientClosed,
        _ => Reason::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::atoms::Ts;
    use crate::parse::edge::tests::b;

    fn at(h: u32, m: u32, s: u32, micros: u32) -> Option<Ts> {
        Ts::from_civil((2026, 11, 28), (h, m, s), micros, 0)
    }

    #[test]
    fn router_line_whose_time_an_envelope_took() {
        let line = br#"heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=shop.herokuapp.com request_id=7 fwd="203.0.113.7" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https"#;
        let (rest, rec) = heroku_router(line).unwrap();
        assert_eq!(rest, b"");
        assert_eq!(rec.time, None);
        assert_eq!(rec.status, Some(503));
        assert_eq!(rec.reason, Some(Reason::UpstreamTimeout));
        // With a time before it, the router's source is required.
        assert!(heroku_router(
            b"2026-11-28T03:47:31.123456+00:00 app[web.1]: at=info method=GET path=/ status=200"
        )
        .is_err());
    }

    #[test]
    fn request_timeout() {
        let line = br#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=shop.herokuapp.com request_id=8601b555-6a76-4a8e-9c4b-3e1f0d2c7b9a fwd="203.0.113.7" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https"#;
        let (rest, rec) = heroku_router(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 47, 31, 123_456),
            method: b("GET"),
            path: b("/slow/"),
            host: b("shop.herokuapp.com"),
            client: b("203.0.113.7"),
            status: Some(503),
            upstream_addr: b("web.1"),
            upstream_tries: 1,
            upstream_seconds: Some(30.0),
            request_seconds: Some(30.001),
            request_id: b("8601b555-6a76-4a8e-9c4b-3e1f0d2c7b9a"),
            reason: Some(Reason::UpstreamTimeout),
            detail: b(r#"code=H12 desc="Request timeout""#),
            ..EdgeRecord::new(Edge::HerokuRouter, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn answered_by_the_dyno() {
        let line = br#"2026-11-28T03:46:52.004311+00:00 heroku[router]: at=info method=POST path="/orders/?page=2" host=shop.example.com request_id=2b7c0d9e-1f3a-4b5c-8d6e-7f8091a2b3c4 fwd="198.51.100.23,203.0.113.7" dyno=web.2 connect=0ms service=41ms status=201 bytes=1843 protocol=https"#;
        let (rest, rec) = heroku_router(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 46, 52, 4311),
            method: b("POST"),
            path: b("/orders/?page=2"),
            host: b("shop.example.com"),
            client: b("198.51.100.23,203.0.113.7"),
            status: Some(201),
            upstream_status: Some(201),
            upstream_addr: b("web.2"),
            upstream_tries: 1,
            upstream_seconds: Some(0.041),
            request_seconds: Some(0.041),
            request_id: b("2b7c0d9e-1f3a-4b5c-8d6e-7f8091a2b3c4"),
            ..EdgeRecord::new(Edge::HerokuRouter, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn app_crashed_never_reached_a_dyno() {
        // The docs' form: empty values where no dyno was reached, unquoted path and fwd.
        let line = br#"2026-11-28T03:46:58.000000+00:00 heroku[router]: at=error code=H10 desc="App crashed" method=GET path=/admin/ host=shop.herokuapp.com request_id=0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9 fwd=203.0.113.7 dyno= connect= service= status=503 bytes= protocol=https"#;
        let (rest, rec) = heroku_router(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 46, 58, 0),
            method: b("GET"),
            path: b("/admin/"),
            host: b("shop.herokuapp.com"),
            client: b("203.0.113.7"),
            status: Some(503),
            request_id: b("0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"),
            reason: Some(Reason::NoUpstream),
            detail: b(r#"code=H10 desc="App crashed""#),
            ..EdgeRecord::new(Edge::HerokuRouter, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn codes_map_to_reasons() {
        let cases = [
            (
                "at=error code=H10 desc=\"App crashed\"",
                Reason::NoUpstream,
                503,
            ),
            (
                "at=error code=H11 desc=\"Backlog too deep\"",
                Reason::Other,
                503,
            ),
            (
                "at=error code=H12 desc=\"Request timeout\"",
                Reason::UpstreamTimeout,
                503,
            ),
            (
                "at=error code=H13 desc=\"Connection closed without response\"",
                Reason::UpstreamClosed,
                503,
            ),
            (
                "at=error code=H14 desc=\"No web processes running\"",
                Reason::NoUpstream,
                503,
            ),
            (
                "sock=backend at=error code=H18 desc=\"Server Request Interrupted\"",
                Reason::UpstreamClosed,
                503,
            ),
            (
                "sock=client at=error code=H18 desc=\"Server Request Interrupted\"",
                Reason::ClientClosed,
                503,
            ),
            (
                "at=error code=H20 desc=\"App boot timeout\"",
                Reason::BootTimeout,
                503,
            ),
            (
                "at=error code=H21 desc=\"Backend connection refused\"",
                Reason::ConnectionRefused,
                503,
            ),
            (
                "at=info code=H27 desc=\"Client Request Interrupted\"",
                Reason::ClientClosed,
                499,
            ),
            (
                "at=info code=H28 desc=\"Client Connection Idle\"",
                Reason::ClientClosed,
                499,
            ),
        ];
        for (head, reason, status) in cases {
            let line = format!(
                "2026-11-28T03:48:00.000001+00:00 heroku[router]: {head} method=GET path=\"/x\" host=shop.herokuapp.com request_id=5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=5ms status={status} bytes=0 protocol=https"
            );
            let (rest, rec) = heroku_router(line.as_bytes()).unwrap();
            assert_eq!(rest, b"", "{head}");
            let desc_at = head.find("code=").unwrap();
            assert_eq!(
                (rec.reason, rec.detail, rec.status, rec.upstream_status),
                (Some(reason), b(&head[desc_at..]), Some(status), None),
                "{head}"
            );
        }
    }

    #[test]
    fn without_the_logplex_prefix_and_with_trailing_space() {
        let line = br#"at=info method=GET path="/health/" host=shop.herokuapp.com request_id=1 fwd="10.1.2.3" dyno=web.1 connect=0ms service=3ms status=200 bytes=2 protocol=http "#;
        let (rest, rec) = heroku_router(line).unwrap();
        assert_eq!(rest, b" ");
        assert_eq!(
            (rec.time, rec.path, rec.status, rec.request_seconds),
            (None, b("/health/"), Some(200), Some(0.003))
        );
    }

    #[test]
    fn rejects_other_lines() {
        for line in [
            // The app's own logfmt, a dyno state change, an app line, a cut line, garbage.
            &br#"at=info msg="order created" order_id=42"#[..],
            b"2026-11-28T03:46:50.000000+00:00 heroku[web.1]: State changed from up to crashed",
            br#"2026-11-28T03:46:52.000000+00:00 app[web.1]: 10.1.2.3 - - [28/Nov/2026:03:46:52 +0000] "GET / HTTP/1.1" 200 3 "-" "curl/8.5.0""#,
            br#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request tim"#,
            br#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET pa"#,
            br#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=bogus method=GET path="/" status=200"#,
            b"garbage",
            b"",
        ] {
            assert!(
                heroku_router(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn every_cut_of_a_real_line_is_an_error_or_a_record() {
        let line = br#"2026-11-28T03:47:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=shop.herokuapp.com request_id=8601b555-6a76-4a8e-9c4b-3e1f0d2c7b9a fwd="203.0.113.7" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 protocol=https"#;
        for cut in 0..line.len() {
            // A cut pair is an error; a line cut between pairs is the pairs it has, once it
            // has its status (and so every pair before it).
            if let Ok((rest, rec)) = heroku_router(&line[..cut]) {
                assert!(rest.is_empty() || rest == b" ", "{cut}");
                assert_eq!((rec.status, rec.upstream_seconds), (Some(503), Some(30.0)));
            }
        }
    }
}
