//! nginx in front of gunicorn: its access lines in the default `combined` format, and the
//! error-log lines it writes when the upstream (gunicorn) fails it.
//!
//! The access line says what the user got (a `504` for `GET /slow/`); the error line of the same
//! request says why (`upstream timed out (110: Connection timed out) while reading response
//! header from upstream`). `combined` has the very shape of gunicorn's default access line, so
//! nothing here tells the two apart: the source a line came from does.

use std::borrow::Cow;

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use super::{Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::access::request_line;
use crate::parse::atoms::no_match;
use crate::parse::atoms::{access_log_time, number, quoted, status_code, PResult, Ts};
use crate::time::{clock, fixed_digits, time_or_fail};

/// An nginx access line in the `combined` format, predefined by ngx_http_log_module:
///
/// ```text
/// log_format combined '$remote_addr - $remote_user [$time_local] '
///                     '"$request" $status $body_bytes_sent '
///                     '"$http_referer" "$http_user_agent"';
/// ```
///
/// e.g. `203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504 167 "-"
/// "curl/8.5.0"`. Whatever a longer custom format adds after the user agent (Debian's and the
/// docker image's `main` add `"$http_x_forwarded_for"`) is left over. `$time_local` is when the
/// request ended. A request line nginx could not read (a TLS hello on a plain port, logged with
/// a 400) still makes a record, without method and path. Status 499 (nginx's own: the client
/// closed the connection first) is [`Reason::ClientClosed`]; the other failures are told by the
/// error log ([`nginx_upstream_error`]), not by this line.
pub fn nginx_combined(i: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    combined_fields(i, Edge::Nginx)
}

/// The `combined` fields, for nginx and for the formats that extend it (ingress-nginx's).
pub(super) fn combined_fields(i: &[u8], edge: Edge) -> PResult<'_, EdgeRecord<'_>> {
    let (i, (client, _, _user, _, time, _, request, _, status, _, _bytes)) = (
        take_while1(|c: u8| c != b' ' && c != b'"' && c != b'['),
        tag(" - "),
        take_while1(|c: u8| c != b' '),
        char(' '),
        access_log_time,
        char(' '),
        quoted,
        char(' '),
        status_code,
        char(' '),
        take_while1(|c: u8| c.is_ascii_digit()),
    )
        .parse(i)?;
    let (i, (_, _referer, _, _agent)) = (char(' '), quoted, char(' '), quoted).parse(i)?;
    let mut rec = EdgeRecord::new(edge, RecordKind::Access);
    rec.time = Some(time);
    rec.client = Some(Cow::Borrowed(client));
    if let Some((method, path)) = request_line(request) {
        rec.method = Some(Cow::Borrowed(method));
        rec.path = Some(Cow::Borrowed(path));
    }
    rec.status = Some(status);
    if status == 499 {
        rec.reason = Some(Reason::ClientClosed);
    }
    Ok((i, rec))
}

/// nginx's error-log time, `2026/11/28 03:47:01` (local time, no offset: read as UTC, as
/// Django's runserver time is).
fn error_log_time(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (y, _, m, _, d, _, time)) = (
        fixed_digits(4),
        char('/'),
        fixed_digits(2),
        char('/'),
        fixed_digits(2),
        char(' '),
        clock,
    )
        .parse(i)?;
    time_or_fail(i, Ts::from_civil((i64::from(y), m, d), time, 0, 0))
}

/// An nginx error-log line about the upstream, as ngx_http_upstream.c and the event code write
/// it:
///
/// ```text
/// YYYY/MM/DD HH:MM:SS [level] pid#tid: *connection message, client: addr, server: name,
///     request: "request line", upstream: "url", host: "host"[, referrer: "url"]
/// ```
///
/// e.g. `2026/11/28 03:47:31 [error] 29#29: *7 upstream timed out (110: Connection timed out)
/// while reading response header from upstream, client: 172.18.0.1, server: localhost,
/// request: "GET /slow/ HTTP/1.1", upstream: "http://127.0.0.1:8000/slow/", host:
/// "localhost:8080"`. Only lines whose message is about the upstream are read (its text says
/// `upstream`); nginx's other errors (`open() ".../favicon.ico" failed (2: ...)`) are not edge
/// records. The message is the record's `detail` and maps to [`Reason`]:
///
/// - `upstream timed out (110: Connection timed out) ...` → [`Reason::UpstreamTimeout`]
/// - `upstream prematurely closed connection ...` → [`Reason::UpstreamClosed`]
/// - `... (104: Connection reset by peer) ...` (`recv()`, `readv()`) → [`Reason::UpstreamReset`]
/// - `connect() failed (111: Connection refused) ...`, also `connect() to unix:... failed (111:
///   ...)` and `(2: No such file or directory)` for a socket gunicorn has not made →
///   [`Reason::ConnectionRefused`]
/// - `no live upstreams while connecting to upstream` → [`Reason::NoUpstream`]
/// - any other upstream message (`upstream sent too big header ...`) → [`Reason::Other`]
///
/// The user's status is not on this line (the access line of the same request has it). The
/// `upstream:` URL is kept whole as `upstream_addr`; `server:` (the server block's name) is not
/// kept.
pub fn nginx_upstream_error(i: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let (i, (time, _, _level, _, _pid, _, _tid, _, _connection)) = (
        error_log_time,
        tag(" ["),
        take_while1(|c: u8| c.is_ascii_lowercase()),
        tag("] "),
        number,
        char('#'),
        number,
        tag(": "),
        opt((char('*'), number, char(' '))),
    )
        .parse(i)?;
    let Some(end) = memchr::memmem::find(i, b", client: ") else {
        return no_match(i);
    };
    let (message, mut i) = i.split_at(end);
    if memchr::memmem::find(message, b"upstream").is_none() {
        return no_match(message);
    }
    let mut rec = EdgeRecord::new(Edge::Nginx, RecordKind::UpstreamError);
    rec.time = Some(time);
    rec.reason = Some(upstream_reason(message));
    rec.detail = Some(Cow::Borrowed(message));
    while i.starts_with(b", ") {
        let (j, (_, name, _)) = (
            tag(", "),
            take_while1(|c: u8| c.is_ascii_lowercase()),
            tag(": "),
        )
            .parse(i)?;
        let (j, value) = if j.first() == Some(&b'"') {
            quoted(j)?
        } else {
            take_while(|c: u8| c != b',').parse(j)?
        };
        i = j;
        match name {
            b"client" => rec.client = Some(Cow::Borrowed(value)),
            b"host" => rec.host = Some(Cow::Borrowed(value)),
            b"upstream" => {
                rec.upstream_addr = Some(Cow::Borrowed(value));
                rec.upstream_tries = 1;
            }
            b"request" => {
                if let Some((method, path)) = request_line(value) {
                    rec.method = Some(Cow::Borrowed(method));
                    rec.path = Some(Cow::Borrowed(path));
                }
            }
            _ => {}
        }
    }
    Ok((i, rec))
}

/// What an upstream error message says happened.
fn upstream_reason(message: &[u8]) -> Reason {
    let has = |s: &[u8]| memchr::memmem::find(message, s).is_some();
    if message.starts_with(b"upstream timed out") {
        Reason::UpstreamTimeout
    } else if message.starts_with(b"upstream prematurely closed connection") {
        Reason::UpstreamClosed
    } else if message.starts_with(b"no live upstreams") {
        Reason::NoUpstream
    } else if has(b"(104: Connection reset by peer)") {
        Reason::UpstreamReset
    } else if message.starts_with(b"connect() ")
        && (has(b"(111: Connection refused)") || has(b"(2: No such file or directory)"))
    {
        Reason::ConnectionRefused
    } else {
        Reason::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::{at, b};

    #[test]
    fn combined_gateway_timeout() {
        let line = br#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/?n=1 HTTP/1.1" 504 167 "-" "curl/8.5.0""#;
        let (rest, rec) = nginx_combined(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 47, 31),
            method: b("GET"),
            path: b("/slow/?n=1"),
            client: b("203.0.113.7"),
            status: Some(504),
            ..EdgeRecord::new(Edge::Nginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn combined_with_user_offset_and_forwarded_for_left_over() {
        // Debian's and the docker image's `main` format: `combined` plus "$http_x_forwarded_for".
        let line = br#"172.18.0.1 - alice [28/Nov/2026:04:47:02 +0100] "POST /api/orders HTTP/2.0" 200 5123 "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64)" "198.51.100.23""#;
        let (rest, rec) = nginx_combined(line).unwrap();
        assert_eq!(rest, br#" "198.51.100.23""#);
        let want = EdgeRecord {
            time: at(3, 47, 2),
            method: b("POST"),
            path: b("/api/orders"),
            client: b("172.18.0.1"),
            status: Some(200),
            ..EdgeRecord::new(Edge::Nginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn combined_client_closed_and_unreadable_request() {
        let line = br#"10.1.2.3 - - [28/Nov/2026:03:48:00 +0000] "GET /slow/ HTTP/1.1" 499 0 "-" "python-requests/2.32.3""#;
        let (_, rec) = nginx_combined(line).unwrap();
        assert_eq!(
            (rec.status, rec.reason),
            (Some(499), Some(Reason::ClientClosed))
        );
        // A TLS hello sent to the plain-text port: nginx logs the bytes it got and a 400.
        let line = br#"198.51.100.9 - - [28/Nov/2026:03:49:10 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-""#;
        let (rest, rec) = nginx_combined(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 49, 10),
            client: b("198.51.100.9"),
            status: Some(400),
            ..EdgeRecord::new(Edge::Nginx, RecordKind::Access)
        };
        assert_eq!(rec, want);
    }

    #[test]
    fn combined_rejects_other_lines() {
        for line in [
            // uvicorn's access line, a gunicorn error line, a truncated line, garbage.
            &br#"127.0.0.1:53910 - "GET /ok HTTP/1.1" 200"#[..],
            b"[2026-11-28 03:47:01 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:12)",
            br#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504 167 "-" "curl/8"#,
            br#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504"#,
            b"\x00\xff garbage",
            b"",
        ] {
            assert!(nginx_combined(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
    }

    /// An error line as nginx 1.26 writes it, for the request in `request` and its message.
    fn error_line(message: &str) -> String {
        format!(
            "2026/11/28 03:47:31 [error] 29#29: *7 {message}, client: 172.18.0.1, server: localhost, request: \"GET /slow/?n=1 HTTP/1.1\", upstream: \"http://127.0.0.1:8000/slow/?n=1\", host: \"localhost:8080\""
        )
    }

    #[test]
    fn upstream_errors_and_their_reasons() {
        let cases = [
            (
                "upstream timed out (110: Connection timed out) while reading response header from upstream",
                Reason::UpstreamTimeout,
            ),
            (
                "upstream prematurely closed connection while reading response header from upstream",
                Reason::UpstreamClosed,
            ),
            (
                "connect() failed (111: Connection refused) while connecting to upstream",
                Reason::ConnectionRefused,
            ),
            (
                "no live upstreams while connecting to upstream",
                Reason::NoUpstream,
            ),
            (
                "recv() failed (104: Connection reset by peer) while reading response header from upstream",
                Reason::UpstreamReset,
            ),
            (
                "connect() to unix:/run/gunicorn.sock failed (2: No such file or directory) while connecting to upstream",
                Reason::ConnectionRefused,
            ),
            (
                "upstream sent too big header while reading response header from upstream",
                Reason::Other,
            ),
        ];
        for (message, reason) in cases {
            let line = error_line(message);
            let (rest, rec) = nginx_upstream_error(line.as_bytes()).unwrap();
            assert_eq!(rest, b"");
            let want = EdgeRecord {
                time: at(3, 47, 31),
                method: b("GET"),
                path: b("/slow/?n=1"),
                host: b("localhost:8080"),
                client: b("172.18.0.1"),
                upstream_addr: b("http://127.0.0.1:8000/slow/?n=1"),
                upstream_tries: 1,
                reason: Some(reason),
                detail: b(message),
                ..EdgeRecord::new(Edge::Nginx, RecordKind::UpstreamError)
            };
            assert_eq!(rec, want, "{message}");
        }
    }

    #[test]
    fn upstream_error_without_upstream_field_and_with_referrer() {
        // `no live upstreams` names the upstream block, not an address; a referrer may follow.
        let line = br#"2026/11/28 03:50:02 [error] 30#30: *112 no live upstreams while connecting to upstream, client: 203.0.113.7, server: shop.example.com, request: "POST /api/orders HTTP/1.1", upstream: "http://gunicorn/api/orders", host: "shop.example.com", referrer: "https://shop.example.com/cart""#;
        let (rest, rec) = nginx_upstream_error(line).unwrap();
        assert_eq!(rest, b"");
        let want = EdgeRecord {
            time: at(3, 50, 2),
            method: b("POST"),
            path: b("/api/orders"),
            host: b("shop.example.com"),
            client: b("203.0.113.7"),
            upstream_addr: b("http://gunicorn/api/orders"),
            upstream_tries: 1,
            reason: Some(Reason::NoUpstream),
            detail: b("no live upstreams while connecting to upstream"),
            ..EdgeRecord::new(Edge::Nginx, RecordKind::UpstreamError)
        };
        assert_eq!(rec, want);
        // A line cut before `upstream:` still says what happened to whom.
        let line = b"2026/11/28 03:50:02 [error] 30#30: *113 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.7, server: _";
        let (rest, rec) = nginx_upstream_error(line).unwrap();
        assert_eq!(rest, b"");
        assert_eq!(
            (
                rec.client,
                rec.upstream_addr,
                rec.upstream_tries,
                rec.reason
            ),
            (b("203.0.113.7"), None, 0, Some(Reason::UpstreamClosed))
        );
    }

    #[test]
    fn upstream_error_rejects_other_lines() {
        for line in [
            // nginx errors that are not about the upstream.
            &br#"2026/11/28 03:47:31 [error] 29#29: *3 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 172.18.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080""#[..],
            b"2026/11/28 03:40:00 [notice] 1#1: start worker processes",
            // An access line, a gunicorn line, a cut line, garbage.
            br#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504 167 "-" "curl/8.5.0""#,
            b"[2026-11-28 03:47:01 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:12)",
            b"2026/11/28 03:47:31 [error] 29#29: *7 upstream timed out (110: Connection timed out) while reading",
            b"2026/13/28 03:47:31 [error] 29#29: *7 upstream timed out, client: 1.2.3.4",
            b"garbage",
        ] {
            assert!(
                nginx_upstream_error(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn every_cut_of_a_real_line_is_an_error_or_a_record() {
        let access = br#"203.0.113.7 - - [28/Nov/2026:03:47:31 +0000] "GET /slow/ HTTP/1.1" 504 167 "-" "curl/8.5.0""#;
        let error = error_line("upstream timed out (110: Connection timed out) while reading response header from upstream");
        for line in [&access[..], error.as_bytes()] {
            for cut in 0..line.len() {
                // No panic; a cut access line never parses (its last field is quoted).
                let _ = nginx_upstream_error(&line[..cut]);
                assert!(nginx_combined(&line[..cut]).is_err());
            }
        }
    }
}
