//! HAProxy's HTTP log format (`option httplog`): one line per request, written when it ends.
//!
//! The configuration manual ("HTTP log format") gives the line and its fields; HAProxy ≥ 1.9
//! writes it with the log-format string
//! `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq
//! %hr %hs %{+Q}r`, older versions with `Tq/Tw/Tc/Tr/Tt` in the same place:
//!
//! ```text
//! Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in \
//!   static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//! ```
//!
//! Timers are milliseconds, `-1` for a phase never reached (`Tr` is `-1` when the server never
//! sent its response headers); `Ta`/`Tt` and the byte count carry a `+` with `option logasap`.
//! The captured headers (`{…}`) appear only when captures are configured, so they are optional.
//! The termination state's first two letters say who ended the session and in which phase
//! ("Session state at disconnection"): `sH` the server timeout while waiting for the response
//! headers, `SC` the server refused the connection (with `<NOSRV>`: no server was available),
//! `SH`/`SD` the server aborted, `cD`/`CD`/`CR` the client timed out or aborted, `----` normal.

use std::borrow::Cow;

use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use super::{without_port, Edge, EdgeRecord, Reason, RecordKind};
use crate::input::{find_once, find_short};
use crate::parse::access::request_line;
use crate::parse::atoms::no_match;
use crate::parse::atoms::{month_abbrev, quoted, spaces, token, PResult, Ts};
use crate::time::{clock, fixed_digits, time_or_fail};

/// The syslog prefix HAProxy's lines carry in a log file (`Feb  6 12:14:14 localhost
/// haproxy[14389]: `, or an RFC 3339 stamp before the host): skipped when present, up to the
/// `name[pid]: ` that ends it.
fn without_syslog_prefix(i: &[u8]) -> &[u8] {
    let head = &i[..i.len().min(160)];
    let Some(end) = find_once(head, b"]: ") else {
        return i;
    };
    let start = memchr::memrchr(b' ', &head[..end]).map_or(0, |s| s + 1);
    let program = &head[start..end];
    let Some(open) = memchr::memchr(b'[', program) else {
        return i;
    };
    let pid = &program[open + 1..];
    if open == 0 || pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
        return i;
    }
    &i[end + 3..]
}

/// An `option httplog` line written without a syslog prefix (as `log stdout format raw` writes
/// it in a container), told by its opening first ([`opens_without_prefix`]); `None` for any
/// other line. Every other edge's parser fails on such a line, and so does every layout of the
/// app's lines, which have either no such opening or a zone where its milliseconds are: the
/// parse can come before theirs.
pub fn without_prefix(line: &[u8]) -> Option<EdgeRecord<'_>> {
    if !opens_without_prefix(line) {
        return None;
    }
    haproxy_http(line).ok().map(|(_, rec)| rec)
}

/// Whether `line` opens as a line without a syslog prefix does: a first word with no quote or
/// bracket in it (the client's address), then the accept date with its milliseconds,
/// `1.2.3.4:5 [06/Feb/2009:12:14:14.`. A byte test only: the line may still fail to parse.
fn opens_without_prefix(line: &[u8]) -> bool {
    let Some(end) = find_short(line, [b' ', b'"', b'[']) else {
        return false;
    };
    // ` [06/Feb/2009:12:14:14.`: the date's fixed punctuation.
    let d = &line[end..];
    d.len() > 23
        && d[..2] == *b" ["
        && d[4] == b'/'
        && d[8] == b'/'
        && d[13] == b':'
        && d[16] == b':'
        && d[19] == b':'
        && d[22] == b'.'
}

/// The accept date, local time with milliseconds and no offset: `[06/Feb/2009:12:14:14.655]`.
/// Read as UTC (HAProxy in containers and on servers logs in UTC nearly always).
fn accept_date(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (_, d, _, m, _, y, _, time, _, ms, _)) = (
        char('['),
        fixed_digits(2),
        char('/'),
        month_abbrev,
        char('/'),
        fixed_digits(4),
        char(':'),
        clock,
        char('.'),
        fixed_digits(3),
        char(']'),
    )
        .parse(i)?;
    time_or_fail(i, Ts::from_civil((i64::from(y), m, d), time, ms * 1000, 0))
}

/// A timer or counter as HAProxy prints it: `-1` (never reached), `69`, or `+109` (logasap).
fn signed(i: &[u8]) -> PResult<'_, i64> {
    let (i, (_, minus, digits)) = (
        opt(char('+')),
        opt(char('-')),
        take_while1(|c: u8| c.is_ascii_digit()),
    )
        .parse(i)?;
    let mut n: i64 = 0;
    for &c in digits.iter().take(18) {
        n = n * 10 + i64::from(c - b'0');
    }
    Ok((i, if minus.is_some() { -n } else { n }))
}

/// Milliseconds to seconds, `None` for HAProxy's `-1`.
fn millis(ms: i64) -> Option<f64> {
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

/// Five numbers between slashes: the timers `TR/Tw/Tc/Tr/Ta` (or `Tq/Tw/Tc/Tr/Tt`), and the
/// connection counts `actconn/feconn/beconn/srv_conn/retries` (`+` on retries marks a
/// redispatch).
fn five_numbers(i: &[u8]) -> PResult<'_, [i64; 5]> {
    let (i, (a, _, b, _, c, _, d, _, e)) = (
        signed,
        char('/'),
        signed,
        char('/'),
        signed,
        char('/'),
        signed,
        char('/'),
        signed,
    )
        .parse(i)?;
    Ok((i, [a, b, c, d, e]))
}

/// A captured header block `{…}` (optional, zero to two of them).
fn captured_headers(i: &[u8]) -> PResult<'_, &[u8]> {
    let (i, (_, inside, _)) = (char('{'), take_while(|c: u8| c != b'}'), char('}')).parse(i)?;
    Ok((i, inside))
}

/// The termination state: four characters of letters and dashes (two in TCP mode).
fn termination_state(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::combinator::verify(
        take_while1(|c: u8| c == b'-' || c.is_ascii_alphabetic()),
        |s: &[u8]| s.len() == 4 || s.len() == 2,
    )
    .parse(i)
}

/// What the termination state's first two letters say about the upstream (the manual's
/// "Session state at disconnection"). `no_server`: the server field was `<NOSRV>`.
fn reason_of(state: &[u8], no_server: bool) -> Option<Reason> {
    let (who, phase) = (state[0], state[1]);
    Some(match who {
        b'-' | b'L' => return None,
        b'S' if no_server => Reason::NoUpstream,
        b'S' if phase == b'C' => Reason::ConnectionRefused,
        b'S' => Reason::UpstreamClosed,
        b's' if phase == b'Q' => Reason::Other,
        b's' => Reason::UpstreamTimeout,
        b'C' | b'c' => Reason::ClientClosed,
        _ => Reason::Other,
    })
}

/// One `option httplog` line, with or without its syslog prefix, into an edge record.
///
/// The client is the address without its port. The upstream is `backend/server` (the line
/// names servers, not their addresses); `None` with `<NOSRV>`. The upstream status is the
/// status when the server sent its headers (`Tr` ≥ 0), since HAProxy logs one status only.
/// The request time is the last timer (`Ta`, or `Tt` before 1.9), the upstream time `Tr`.
pub fn haproxy_http(line: &[u8]) -> PResult<'_, EdgeRecord<'_>> {
    let i = without_syslog_prefix(line);
    let (i, (client, _, time, _, _frontend, _)) =
        (token, spaces, accept_date, spaces, token, spaces).parse(i)?;
    let (i, (backend_server, _, t, _, status, _, _bytes)) =
        (token, spaces, five_numbers, spaces, signed, spaces, signed).parse(i)?;
    let (i, (_, _cookie_req, _, _cookie_resp, _, state, _, counts, _)) = (
        spaces,
        token,
        spaces,
        token,
        spaces,
        termination_state,
        spaces,
        five_numbers,
        spaces,
    )
        .parse(i)?;
    let (i, (_, _, _, _)) = (signed, char('/'), signed, spaces).parse(i)?;
    let (i, _) = opt((captured_headers, spaces)).parse(i)?;
    let (i, _) = opt((captured_headers, spaces)).parse(i)?;
    let (i, request) = quoted(i)?;
    let Some(slash) = memchr::memchr(b'/', backend_server) else {
        return no_match(backend_server);
    };
    let server = &backend_server[slash + 1..];
    let no_server = server == b"<NOSRV>";
    let client = without_port(client);
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=599).contains(s));
    let mut record = EdgeRecord::new(Edge::HaProxy, RecordKind::Access);
    record.time = Some(time);
    record.started = true;
    if let Some((method, path)) = request_line(request) {
        record.method = Some(Cow::Borrowed(method));
        record.path = Some(Cow::Borrowed(path));
    }
    record.client = Some(Cow::Borrowed(client));
    record.status = status;
    if !no_server {
        record.upstream_addr = Some(Cow::Borrowed(backend_server));
        // The connection counts end with the retries.
        record.upstream_tries = u8::try_from(counts[4].max(0) + 1).unwrap_or(u8::MAX);
    }
    if t[3] >= 0 {
        record.upstream_status = status;
    }
    record.upstream_seconds = millis(t[3]);
    record.request_seconds = millis(t[4]);
    if &state[..2] != b"--" {
        record.reason = reason_of(state, no_server);
        record.detail = Some(Cow::Borrowed(state));
    }
    Ok((i, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::text;

    #[test]
    fn an_opening_without_prefix_is_told_by_its_dates_punctuation() {
        let line = br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/g1 0/0/-1/-1/3004 503"#;
        assert!(opens_without_prefix(line));
        assert!(opens_without_prefix(&line[..38]));
        for other in [
            &line[..37],
            // gunicorn's access line, a syslog prefix, the date without milliseconds
            br#"10.0.0.7 - - [28/Nov/2026:03:50:00 +0000] "GET / HTTP/1.1" 200 2 "-" "c""#,
            br#"Nov 28 03:51:02 lb1 haproxy[812]: 10.0.0.7:40030 [28/Nov/2026:03:51:02.500] web~"#,
            br#"10.0.0.7:40022 [28/Nov/2026:03:50:00 +0000] web~ app/g1"#,
            br#"10.0.0.7:40022  [28/Nov/2026:03:50:00.120] web~ app/g1"#,
            br#"10.0"7:40022 [28/Nov/2026:03:50:00.120] web~ app/g1"#,
        ] {
            assert!(
                !opens_without_prefix(other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn the_manuals_example_with_its_syslog_prefix() {
        let line = br#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let (rest, r) = haproxy_http(line).unwrap();
        assert!(rest.is_empty());
        assert_eq!((r.edge, r.kind), (Edge::HaProxy, RecordKind::Access));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2009-02-06T12:14:14.655Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.path), Some("/index.html"));
        assert_eq!(r.host, None);
        assert_eq!(text(&r.client), Some("10.0.1.2"));
        assert_eq!((r.status, r.upstream_status), (Some(200), Some(200)));
        assert_eq!(text(&r.upstream_addr), Some("static/srv1"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(r.upstream_seconds, Some(0.069));
        assert_eq!(r.request_seconds, Some(0.109));
        assert_eq!((r.request_id, r.reason, r.detail), (None, None, None));
    }

    #[test]
    fn server_timeout_waiting_for_headers_is_an_upstream_timeout() {
        // gunicorn's worker hung past HAProxy's `timeout server 30s`: HAProxy answers 504.
        let line = br#"172.18.0.1:51234 [28/Nov/2026:03:47:31.002] web~ app/gunicorn1 0/0/1/-1/30001 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /slow/?n=3 HTTP/1.1" trailing"#;
        let (rest, r) = haproxy_http(line).unwrap();
        assert_eq!(rest, b" trailing");
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:47:31.002Z");
        assert_eq!(text(&r.client), Some("172.18.0.1"));
        assert_eq!(text(&r.path), Some("/slow/?n=3"));
        assert_eq!((r.status, r.upstream_status), (Some(504), None));
        assert_eq!(text(&r.upstream_addr), Some("app/gunicorn1"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(r.upstream_seconds, None);
        assert_eq!(r.request_seconds, Some(30.001));
        assert_eq!(r.reason, Some(Reason::UpstreamTimeout));
        assert_eq!(text(&r.detail), Some("sH--"));
    }

    #[test]
    fn refused_and_no_server_and_aborts() {
        // gunicorn down: the connection is refused, HAProxy retried 3 times and gave 503.
        let refused = br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/gunicorn1 0/0/-1/-1/3004 503 217 - - SC-- 2/2/0/0/+3 0/0 "POST /login/ HTTP/1.1""#;
        let (rest, r) = haproxy_http(refused).unwrap();
        assert!(rest.is_empty());
        assert_eq!((r.status, r.upstream_status), (Some(503), None));
        assert_eq!(r.upstream_tries, 4);
        assert_eq!(r.reason, Some(Reason::ConnectionRefused));
        assert_eq!(text(&r.method), Some("POST"));
        // Every server down: `<NOSRV>`, no upstream at all.
        let nosrv = br#"Nov 28 03:51:02 lb1 haproxy[812]: 10.0.0.7:40030 [28/Nov/2026:03:51:02.500] web~ app/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#;
        let (_, r) = haproxy_http(nosrv).unwrap();
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!(r.reason, Some(Reason::NoUpstream));
        assert_eq!(r.request_seconds, Some(0.0));
        // The server closed mid-headers (a killed worker), the client went away.
        let closed = br#"10.0.0.7:40040 [28/Nov/2026:03:52:00.000] web~ app/gunicorn2 0/0/0/-1/1520 502 209 - - SH-- 1/1/0/0/0 0/0 "GET /boom/ HTTP/1.1""#;
        assert_eq!(
            haproxy_http(closed).unwrap().1.reason,
            Some(Reason::UpstreamClosed)
        );
        let client = br#"10.0.0.7:40050 [28/Nov/2026:03:52:10.000] web~ app/gunicorn2 0/0/0/12/+45 200 +1024 - - CD-- 1/1/0/0/0 0/0 "GET /big/ HTTP/1.1""#;
        let (_, r) = haproxy_http(client).unwrap();
        assert_eq!(r.reason, Some(Reason::ClientClosed));
        assert_eq!(
            (r.upstream_status, r.request_seconds),
            (Some(200), Some(0.045))
        );
        assert_eq!(text(&r.detail), Some("CD--"));
    }

    #[test]
    fn a_bad_request_has_no_method_but_is_a_record() {
        let line = br#"10.0.0.9:5000 [28/Nov/2026:03:53:00.000] web~ web/<NOSRV> -1/-1/-1/-1/0 400 187 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>""#;
        let (_, r) = haproxy_http(line).unwrap();
        assert_eq!((r.method, r.path, r.status), (None, None, Some(400)));
        assert_eq!(r.reason, Some(Reason::Other));
    }

    #[test]
    fn other_lines_are_not_haproxy() {
        // gunicorn's access line, a TCP-mode line, a cut line, garbage.
        let gunicorn = br#"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] "GET /ok HTTP/1.1" 200 3 "-" "curl/8.5""#;
        assert!(haproxy_http(gunicorn).is_err());
        let tcp =
            b"10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0";
        assert!(haproxy_http(tcp).is_err());
        let cut = br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/gunicorn1 0/0/-1/-1/3004 503 217 - - SC-- 2/2/0/0/+3 0/0 "POST /login/ HT"#;
        assert!(haproxy_http(cut).is_err());
        assert!(haproxy_http(b"haproxy[1]: Proxy web started.").is_err());
        assert!(haproxy_http(b"").is_err());
        // Traefik's CLF line and an ALB entry.
        assert!(haproxy_http(br#"192.168.1.10 - - [28/Nov/2026:03:47:01 +0000] "GET / HTTP/1.1" 200 5120 "-" "curl/8.5.0" 42 "app@docker" "http://172.18.0.3:8000" 37ms"#).is_err());
        assert!(haproxy_http(br#"http 2026-11-28T03:49:31.000000Z app/shop-alb/50dc6c495c0c9188 203.0.113.7:2841 10.0.1.15:8000 0.000 0.002 0.000 404 404 120 277 "GET http://shop.example.com:80/nope HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/73e2d6bc24d8a067 "Root=1-6748e823-bb""#).is_err());
    }
}
