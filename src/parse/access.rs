//! Access lines: one line per finished request, written by gunicorn, uvicorn or runserver.
//!
//! gunicorn's default `access_log_format` is `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s
//! "%(f)s" "%(a)s"`; the time is the *completion* time. uvicorn workers print
//! `127.0.0.1:53910 - "GET /ok HTTP/1.1" 400` (no time, no size, no user agent), and rewritten or
//! pasted logs drop fields (`127.0.0.6 - "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32"`),
//! so the fields between the client and the quoted request line are optional here.

use nom::bytes::complete::take_while;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use super::atoms::no_match;
use super::atoms::{
    access_log_time, http_method, number, quoted, runserver_time, spaces, status_code, PResult, Ts,
};

/// A finished request as an access line tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access<'a> {
    /// `%(h)s`: remote address (empty for unix-socket binds; `ip:port` for uvicorn).
    pub client: &'a [u8],
    /// Completion time, when the line carries one.
    pub time: Option<Ts>,
    pub method: &'a [u8],
    /// Raw request URI, query string included, percent-encoding kept.
    pub uri: &'a [u8],
    pub status: u16,
    pub user_agent: Option<&'a [u8]>,
}

/// The quoted request line `GET /path?q HTTP/1.1` → (method, uri).
pub(crate) fn request_line(r: &[u8]) -> Option<(&[u8], &[u8])> {
    let (rest, (method, _)) = (http_method, char(' ')).parse(r).ok()?;
    let uri_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let (uri, proto) = rest.split_at(uri_end);
    if uri.is_empty() || !(proto.is_empty() || proto.starts_with(b" HTTP/")) {
        return None;
    }
    Some((method, uri))
}

/// The fields after the status: `%(b)s "%(f)s" "%(a)s"`, all optional. Returns the user agent.
fn size_referer_agent(i: &[u8]) -> PResult<'_, Option<&[u8]>> {
    let (i, _) = opt((
        spaces,
        nom::branch::alt((
            nom::combinator::recognize(number),
            nom::bytes::complete::tag("-"),
        )),
    ))
    .parse(i)?;
    let (i, quoted_fields) = opt((spaces, quoted, opt((spaces, quoted)))).parse(i)?;
    let agent = quoted_fields.and_then(|(_, _, ua)| ua.map(|(_, a)| a));
    Ok((i, agent))
}

/// A gunicorn (any field subset up to the request line) or uvicorn access line.
pub fn access_line(i: &[u8]) -> PResult<'_, Access<'_>> {
    let (mut i, client) = take_while(|c: u8| c != b' ' && c != b'"' && c != b'[').parse(i)?;
    let mut time = None;
    // `%(l)s %(u)s %(t)s` or any subset, at most three fields.
    for _ in 0..4 {
        let (j, _) = spaces(i)?;
        i = j;
        if i.first() == Some(&b'"') {
            break;
        }
        if i.first() == Some(&b'[') {
            let (j, t) = access_log_time(i)?;
            time = Some(t);
            i = j;
        } else {
            let (j, _) = take_while(|c: u8| c != b' ').parse(i)?;
            i = j;
        }
    }
    let (i, request) = quoted(i)?;
    let (i, (_, status)) = (spaces, status_code).parse(i)?;
    let (i, user_agent) = size_referer_agent(i)?;
    let Some((method, uri)) = request_line(request) else {
        return no_match(request);
    };
    let access = Access {
        client,
        time,
        method,
        uri,
        status,
        user_agent,
    };
    Ok((i, access))
}

/// Django's runserver line: `[27/Nov/2026 20:26:06] "GET /nope HTTP/1.1" 404 179`.
pub fn runserver_line(i: &[u8]) -> PResult<'_, Access<'_>> {
    let (i, (time, _, request, _, status)) =
        (runserver_time, spaces, quoted, spaces, status_code).parse(i)?;
    let (i, _) = opt((spaces, number)).parse(i)?;
    let Some((method, uri)) = request_line(request) else {
        return no_match(request);
    };
    let access = Access {
        client: b"",
        time: Some(time),
        method,
        uri,
        status,
        user_agent: None,
    };
    Ok((i, access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_default_format() {
        let line = br#"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] "GET /ok?x=1 HTTP/1.1" 200 3 "-" "kube-probe/1.27""#;
        let (rest, a) = access_line(line).unwrap();
        assert!(rest.is_empty());
        assert_eq!(a.client, b"127.0.0.1");
        assert_eq!(
            (a.method, a.uri, a.status),
            (&b"GET"[..], &b"/ok?x=1"[..], 200)
        );
        assert_eq!(a.user_agent, Some(&b"kube-probe/1.27"[..]));
        assert_eq!(a.time.unwrap().to_rfc3339(), "2026-11-28T02:23:44.000Z");
    }

    #[test]
    fn unix_socket_empty_client_and_dash_size() {
        let line = br#" - - [28/Nov/2026:02:25:03 +0000] "HEAD /ok HTTP/1.1" 200 - "-" "Go-http-client/1.1""#;
        let (_, a) = access_line(line).unwrap();
        assert_eq!(a.client, b"");
        assert_eq!(a.method, b"HEAD");
    }

    #[test]
    fn escaped_quotes_in_agent() {
        let line = br#"1.2.3.4 - - [28/Nov/2026:02:25:03 +0000] "GET / HTTP/1.1" 404 179 "-" "a \"b\" c" extra"#;
        let (rest, a) = access_line(line).unwrap();
        assert_eq!(a.user_agent, Some(&br#"a \"b\" c"#[..]));
        assert_eq!(rest, b" extra");
    }

    #[test]
    fn uvicorn_and_pasted_layouts() {
        let (rest, a) = access_line(br#"127.0.0.1:53910 - "GET /ok?a=b HTTP/1.1" 400"#).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            (a.client, a.status, a.time),
            (&b"127.0.0.1:53910"[..], 400, None)
        );
        let (_, b) =
            access_line(br#"127.0.0.6 - "GET /health/ HTTP/1.1" 200 61 "-" "kube-probe/1.32""#)
                .unwrap();
        assert_eq!(b.user_agent, Some(&b"kube-probe/1.32"[..]));
    }

    #[test]
    fn rejects_prose_with_quotes() {
        assert!(access_line(br#"he said "hello there" 200 times"#).is_err());
        assert!(
            access_line(br#"1.2.3.4 - - [28/Nov/2026:02:25:03 +0000] "GET / HTTP/1.1" abc"#)
                .is_err()
        );
        assert!(access_line(b"[2025-10-16 08:00:00 +0000] [1] [INFO] x").is_err());
    }

    #[test]
    fn runserver() {
        let (rest, a) =
            runserver_line(br#"[27/Nov/2026 20:26:06] "GET /nope HTTP/1.1" 404 179"#).unwrap();
        assert!(rest.is_empty());
        assert_eq!((a.uri, a.status), (&b"/nope"[..], 404));
    }
}
