//! Messages the Django application writes: the request-logging middleware lines, Django's
//! `Invalid HTTP_HOST header` in all its wordings, and the `django.request` response lines.
//!
//! The middleware lines are the ones from the seed incident: `INCOMING REQUEST: GET /admin/ from
//! 10.2.3.4 Host: app.example.com`, `RESPONSE: GET /admin/ -> 200`, `K8s internal request from
//! 10.96.27.85 - bypassing ALLOWED_HOSTS`. Paths and hosts are whatever a client sent, so the
//! parsers anchor on the fixed words around them and never assume they are free of spaces.

use memchr::memmem;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::char;
use nom::sequence::preceded;
use nom::Parser;

use super::atoms::no_match;
use super::atoms::{http_method, python_repr, status_code, PResult};
use super::Event;

/// `INCOMING REQUEST: GET /admin/ from 10.2.3.4 Host: app.example.com`
pub fn incoming_request(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (_, method, _)) = (tag("INCOMING REQUEST: "), http_method, char(' ')).parse(i)?;
    // The path ends at the first ` Host: ` that is preceded by ` from <client>`, the client
    // being the text after the last ` from ` that ends before it. A client is never a word
    // (REMOTE_ADDR: an IPv4/IPv6 address, or empty for unix sockets), so that ` from ` is the
    // one right before the run of address bytes that ends at the ` Host: `: ` from ` ends in a
    // space, which no address holds. Each candidate walks back over its own run only, and the
    // runs of two candidates never overlap (`Host` holds letters no address has): a line of
    // thousands of ` Host: ` stays linear.
    let is_client_byte = |c: &u8| c.is_ascii_hexdigit() || matches!(c, b'.' | b':');
    for h in memchr::memchr_iter(b'H', i) {
        if h == 0 || i[h - 1] != b' ' || !i[h..].starts_with(b"Host: ") {
            continue;
        }
        let at = h - 1;
        let run = i[..at]
            .iter()
            .rev()
            .take_while(|c| is_client_byte(c))
            .count();
        let Some(from) = (at - run).checked_sub(6) else {
            continue;
        };
        if &i[from..at - run] != b" from " {
            continue;
        }
        return Ok((
            &i[i.len()..],
            Event::Incoming {
                method,
                path: &i[..from],
                client: &i[at - run..at],
                host: &i[h + 6..],
            },
        ));
    }
    no_match(i)
}

/// `RESPONSE: GET /admin/ -> 200`
pub fn response(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (_, method, _)) = (tag("RESPONSE: "), http_method, char(' ')).parse(i)?;
    // The path ends at the last ` -> `.
    let Some(arrow) = memchr::memrchr_iter(b'>', i)
        .filter(|&k| k >= 2)
        .map(|k| k - 2)
        .find(|&k| i[k..].starts_with(b" -> "))
    else {
        return no_match(i);
    };
    let path = &i[..arrow];
    let (rest, status) = status_code(&i[arrow + 4..])?;
    if !rest.is_empty() {
        return no_match(rest);
    }
    Ok((
        rest,
        Event::Response {
            method,
            path,
            status,
        },
    ))
}

/// `K8s internal request from 10.96.27.85 - bypassing ALLOWED_HOSTS`
pub fn k8s_internal(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (ip, _)) = preceded(
        tag("K8s internal request from "),
        (
            take_while1(|c: u8| c != b' '),
            tag(" - bypassing ALLOWED_HOSTS"),
        ),
    )
    .parse(i)?;
    Ok((i, Event::K8sInternal { ip }))
}

/// Django's DisallowedHost message, every wording from 1.5 to 5.x:
/// - `Invalid HTTP_HOST header: 'h:80'. You may need to add 'h' to ALLOWED_HOSTS.` (1.7+)
/// - `Invalid HTTP_HOST header: 'h'.You may need to add 'h' to ALLOWED_HOSTS.` (1.6)
/// - `Invalid HTTP_HOST header: 'h'. The domain name provided is not valid according to RFC 1034/1035.`
/// - `Invalid HTTP_HOST header (you may need to set ALLOWED_HOSTS): h` (1.5)
pub fn invalid_host(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, _) = tag("Invalid HTTP_HOST header").parse(i)?;
    if let Ok((host, _)) =
        tag::<_, _, nom::error::Error<&[u8]>>(" (you may need to set ALLOWED_HOSTS): ").parse(i)
    {
        let event = Event::DisallowedHost {
            host,
            add: None,
            rfc_valid: true,
        };
        return Ok((&host[host.len()..], event));
    }
    let Ok((i, host)) = (preceded(tag(": "), python_repr), char('.'))
        .parse(i)
        .map(|(i, (host, _))| (i, host))
    else {
        // The host as Django printed it is unreadable (a quote lost in pasting): the host it
        // suggests adding is the one rejected, port aside.
        let (rest, add) = preceded(tag(": "), suggested_host).parse(i)?;
        let event = Event::DisallowedHost {
            host: add,
            add: Some(add),
            rfc_valid: true,
        };
        return Ok((rest, event));
    };
    let i = i.strip_prefix(b" ").unwrap_or(i);
    if let Ok((i, add)) = preceded(tag("You may need to add "), python_repr).parse(i) {
        let event = Event::DisallowedHost {
            host,
            add: Some(add),
            rfc_valid: true,
        };
        return Ok((i, event));
    }
    let (i, _) = tag("The domain name provided is not valid").parse(i)?;
    Ok((
        i,
        Event::DisallowedHost {
            host,
            add: None,
            rfc_valid: false,
        },
    ))
}

/// The host in `… You may need to add 'h' to ALLOWED_HOSTS`, whatever comes before it (the last
/// such suggestion on the line): `app.example.com. You may need to add 'app.example.com' to
/// ALLOWED_HOSTS.` → `app.example.com`, leaving `.`.
pub fn suggested_host(i: &[u8]) -> PResult<'_, &[u8]> {
    const ADD: &[u8] = b"You may need to add ";
    let Some(k) = memmem::rfind(i, ADD) else {
        return no_match(i);
    };
    let (rest, (add, _)) = (python_repr, tag(" to ALLOWED_HOSTS")).parse(&i[k + ADD.len()..])?;
    Ok((rest, add))
}

/// HTTP reason phrases Django's `log_response` writes before `: /path`, with their status.
const REASONS: &[(&[u8], u16)] = &[
    (b"Not Found", 404),
    (b"Bad Request", 400),
    (b"Internal Server Error", 500),
    (b"Forbidden", 403),
    (b"Method Not Allowed", 405),
    (b"Service Unavailable", 503),
    (b"Gateway Timeout", 504),
    (b"Bad Gateway", 502),
    (b"Not Implemented", 501),
    (b"Unauthorized", 401),
    (b"Gone", 410),
    (b"Conflict", 409),
    (b"Payload Too Large", 413),
    (b"Request Entity Too Large", 413),
    (b"Unsupported Media Type", 415),
    (b"Unprocessable Entity", 422),
    (b"Unprocessable Content", 422),
    (b"Too Many Requests", 429),
    (b"Request Header Fields Too Large", 431),
    (b"Not Acceptable", 406),
    (b"Precondition Failed", 412),
    (b"Bad request", 400),
];

/// `django.request` lines: `Not Found: /nope`, `Internal Server Error: /boom`,
/// `Forbidden (CSRF token missing.): /path`, `Bad request (Unable to parse request body): /x`.
pub fn django_request(i: &[u8]) -> PResult<'_, Event<'_>> {
    let first = i.first().copied();
    // The first letter before the whole reason: most messages start with none of them.
    for &(reason, status) in REASONS.iter().filter(|r| r.0.first().copied() == first) {
        let Some(after) = i.strip_prefix(reason) else {
            continue;
        };
        // An optional parenthesised detail, then `: ` and a path.
        let after = if after.first() == Some(&b' ') && after.get(1) == Some(&b'(') {
            match memmem::find(after, b"): /") {
                Some(k) => &after[k + 1..],
                None => continue,
            }
        } else {
            after
        };
        if let Some(path) = after.strip_prefix(b": ") {
            if path.first() == Some(&b'/') {
                let event = Event::DjangoRequest { status, path };
                return Ok((&path[path.len()..], event));
            }
        }
    }
    no_match(i)
}

/// One application message, or `None` if it is none of the above.
pub fn message(msg: &[u8]) -> Option<Event<'_>> {
    let parsed = match msg.first()? {
        // `Internal Server Error: /x` starts with `I` too: it falls through to django_request.
        b'I' => nom::branch::alt((incoming_request, invalid_host, django_request)).parse(msg),
        b'R' => response(msg),
        b'K' => k8s_internal(msg),
        _ => django_request(msg),
    };
    parsed.ok().map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_plain_and_hostile() {
        let (rest, e) = incoming_request(
            b"INCOMING REQUEST: GET /health/ from 127.0.0.6 Host: 10.96.27.85:8080",
        )
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            e,
            Event::Incoming {
                method: b"GET",
                path: b"/health/",
                client: b"127.0.0.6",
                host: b"10.96.27.85:8080"
            }
        );
        // A path with ` from ` and ` Host: ` inside, and a host with an escape sequence.
        let (_, e) = incoming_request(
            b"INCOMING REQUEST: GET /a from bob Host: c/ from 10.0.0.1 Host: \x1b]0;pwned\x07x",
        )
        .unwrap();
        assert_eq!(
            e,
            Event::Incoming {
                method: b"GET",
                path: b"/a from bob Host: c/",
                client: b"10.0.0.1",
                host: b"\x1b]0;pwned\x07x"
            }
        );
        assert!(incoming_request(b"INCOMING REQUEST: GET /x Host: h").is_err());
    }

    #[test]
    fn response_line() {
        let (rest, e) = response(b"RESPONSE: GET /health/ -> 200").unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            e,
            Event::Response {
                method: b"GET",
                path: b"/health/",
                status: 200
            }
        );
        let (_, e) = response(b"RESPONSE: POST /a -> b/ -> 500").unwrap();
        assert_eq!(
            e,
            Event::Response {
                method: b"POST",
                path: b"/a -> b/",
                status: 500
            }
        );
        assert!(response(b"RESPONSE: GET /x -> 2000").is_err());
    }

    /// Every occurrence of `needle` in `hay`, overlapping ones included.
    fn occurrences(hay: &[u8], needle: &[u8]) -> Vec<usize> {
        (0..hay.len())
            .filter(|&k| hay[k..].starts_with(needle))
            .collect()
    }

    /// The middleware line as its doc comment defines it, read the slow way.
    fn incoming_by_definition(i: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        for at in occurrences(i, b" Host: ") {
            let froms = occurrences(i, b" from ");
            let Some(&from) = froms.iter().rfind(|&&f| f + 6 <= at) else {
                continue;
            };
            let client = &i[from + 6..at];
            if client
                .iter()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, b'.' | b':'))
            {
                return Some((&i[..from], client, &i[at + 7..]));
            }
        }
        None
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn incoming_and_response_read_as_defined(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    " from ", " Host: ", "from", "Host:", " ", "-> ", " -> ", ">", "1", ".",
                    "a", ":", "x", "200", "/", " from", "from ", "Host: ", "H", "1.2.3.4", "::1",
                    "fe80", "abc", "/p",
                ]),
                0..24,
            )
        ) {
            let text: String = pieces.concat();
            let line = format!("INCOMING REQUEST: GET {text}");
            let got = incoming_request(line.as_bytes()).ok().map(|(rest, e)| {
                assert!(rest.is_empty());
                match e {
                    Event::Incoming { method, path, client, host } => {
                        assert_eq!(method, b"GET");
                        (path, client, host)
                    }
                    other => panic!("{other:?}"),
                }
            });
            proptest::prop_assert_eq!(got, incoming_by_definition(text.as_bytes()));

            let line = format!("RESPONSE: GET {text}");
            let got = response(line.as_bytes()).ok().map(|(_, e)| match e {
                Event::Response { path, status, .. } => (path, status),
                other => panic!("{other:?}"),
            });
            let t = text.as_bytes();
            let want = occurrences(t, b" -> ").last().and_then(|&k| {
                let (rest, status) = status_code(&t[k + 4..]).ok()?;
                rest.is_empty().then_some((&t[..k], status))
            });
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn k8s_line() {
        let (rest, e) =
            k8s_internal(b"K8s internal request from 10.96.27.85 - bypassing ALLOWED_HOSTS")
                .unwrap();
        assert!(rest.is_empty());
        assert_eq!(e, Event::K8sInternal { ip: b"10.96.27.85" });
    }

    #[test]
    fn invalid_host_wordings() {
        let (rest, e) = invalid_host(
            b"Invalid HTTP_HOST header: '10.244.1.17:8000'. You may need to add '10.244.1.17' to ALLOWED_HOSTS.",
        )
        .unwrap();
        assert_eq!(rest, b" to ALLOWED_HOSTS.");
        assert_eq!(
            e,
            Event::DisallowedHost {
                host: b"10.244.1.17:8000",
                add: Some(b"10.244.1.17"),
                rfc_valid: true
            }
        );
        let (_, e) = invalid_host(
            b"Invalid HTTP_HOST header: 'LOL'.You may need to add u'lol' to ALLOWED_HOSTS.",
        )
        .unwrap();
        assert_eq!(
            e,
            Event::DisallowedHost {
                host: b"LOL",
                add: Some(b"lol"),
                rfc_valid: true
            }
        );
        let (_, e) = invalid_host(
            b"Invalid HTTP_HOST header: 'bad_host!'. The domain name provided is not valid according to RFC 1034/1035.",
        )
        .unwrap();
        assert_eq!(
            e,
            Event::DisallowedHost {
                host: b"bad_host!",
                add: None,
                rfc_valid: false
            }
        );
        let (rest, e) =
            invalid_host(b"Invalid HTTP_HOST header (you may need to set ALLOWED_HOSTS): evil.com")
                .unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            e,
            Event::DisallowedHost {
                host: b"evil.com",
                add: None,
                rfc_valid: true
            }
        );
        assert!(invalid_host(b"Invalid HTTP_HOST header: 'x' whatever").is_err());
    }

    #[test]
    fn a_host_whose_quote_was_lost_is_the_one_suggested() {
        for line in [
            &b"Invalid HTTP_HOST header: app.example.com'. You may need to add 'app.example.com' to ALLOWED_HOSTS."[..],
            b"Invalid HTTP_HOST header: 'app.example.com:8000. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
            b"Invalid HTTP_HOST header: \xe2\x80\x98app.example.com\xe2\x80\x99. You may need to add 'app.example.com' to ALLOWED_HOSTS.",
        ] {
            let (rest, e) = invalid_host(line).unwrap();
            assert_eq!(rest, b".");
            assert_eq!(
                e,
                Event::DisallowedHost {
                    host: b"app.example.com",
                    add: Some(b"app.example.com"),
                    rfc_valid: true
                }
            );
        }
        // Both quotes damaged: nothing readable to count.
        assert!(invalid_host(
            b"Invalid HTTP_HOST header: app.example.com. You may need to add app.example.com to ALLOWED_HOSTS."
        )
        .is_err());
    }

    #[test]
    fn suggested_hosts() {
        let (rest, h) = suggested_host(b"x'. You may need to add 'a.b' to ALLOWED_HOSTS.").unwrap();
        assert_eq!((rest, h), (&b"."[..], &b"a.b"[..]));
        assert!(suggested_host(b"You may need to add 'a.b' somewhere").is_err());
    }

    #[test]
    fn internal_server_error_is_not_taken_for_an_incoming_line() {
        // Regression: dispatch on the first letter sent it to the INCOMING parser only.
        assert_eq!(
            message(b"Internal Server Error: /boom/"),
            Some(Event::DjangoRequest {
                status: 500,
                path: b"/boom/"
            })
        );
    }

    #[test]
    fn django_request_lines() {
        let (rest, e) = django_request(b"Not Found: /nope").unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            e,
            Event::DjangoRequest {
                status: 404,
                path: b"/nope"
            }
        );
        let (_, e) = django_request(b"Forbidden (CSRF token missing.): /login/").unwrap();
        assert_eq!(
            e,
            Event::DjangoRequest {
                status: 403,
                path: b"/login/"
            }
        );
        let (_, e) = django_request(b"Bad request (Unable to parse request body): /x").unwrap();
        assert_eq!(
            e,
            Event::DjangoRequest {
                status: 400,
                path: b"/x"
            }
        );
        let (_, e) = django_request(b"Internal Server Error: /boom/").unwrap();
        assert_eq!(
            e,
            Event::DjangoRequest {
                status: 500,
                path: b"/boom/"
            }
        );
        assert!(django_request(b"Not Found: nope").is_err());
        assert!(django_request(b"Nothing: /x").is_err());
    }
}
