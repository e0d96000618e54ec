//! The two shapes nearly every line of a gunicorn + Django deployment has, read with a few
//! byte tests before the general layout machinery: gunicorn's error-log prefix
//! `[2025-10-16 08:00:00 +0000] [36] [INFO] ` and its default access line
//! `10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 61 "-" "curl/8"`.
//!
//! The general parsers (nom, one function per grammar piece) walk such lines byte by byte
//! through alternatives; this reads their fixed punctuation at once. Each function here
//! answers only for a line in the exact shape, and then exactly what its general parser
//! answers for that line ([`crate::parse::gunicorn::error_log_prefix`],
//! [`crate::parse::access::access_line`]); any other line is `None` and goes the general way.
//! The tests below hold both to that on every line of the captures and on mutations of them.

use super::access::Access;
use super::atoms::{access_log_time, bracketed_log_time, quoted, Level, Ts};
use super::Event;
use crate::input::{bytes_mask, find_short};
use crate::time::stamp;

/// gunicorn's error-log prefix with the bracketed date: (time, pid, level) and the message
/// after it, as [`super::gunicorn::error_log_prefix`] reads it.
#[inline(always)]
pub fn error_log_prefix<'a>(
    line: &'a [u8],
    stamps: &mut Stamps,
) -> Option<(Ts, u32, Level, &'a [u8])> {
    // `[2025-10-16 08:00:00 +0000] [`: the date's own width, then the pid's bracket.
    if line.len() < 34 || line[0] != b'[' || line[26] != b']' || line[27..29] != *b" [" {
        return None;
    }
    let time = stamp(line, &mut stamps.log, bracketed_log_time)?;
    let rest = &line[29..];
    let (pid, rest) = pid_in_brackets(rest)?;
    let rest = rest.strip_prefix(b" [")?;
    let (level, rest) = level_in_brackets(rest)?;
    let msg = rest.strip_prefix(b" ").unwrap_or(rest);
    Some((time, pid, level, msg))
}

/// `36] …` → 36 and the rest after `]`: 1 to 9 digits, as `atoms::number` takes them.
#[inline(always)]
fn pid_in_brackets(i: &[u8]) -> Option<(u32, &[u8])> {
    let mut pid = 0u32;
    for (k, &c) in i.iter().enumerate().take(10) {
        match c {
            b'0'..=b'9' if k < 9 => pid = pid * 10 + u32::from(c - b'0'),
            b']' if (1..=9).contains(&k) => return Some((pid, &i[k + 1..])),
            _ => return None,
        }
    }
    None
}

/// `INFO] …` → the level and the rest after `]`, the names `atoms::level_name` knows.
/// Always inlined: as a call, passing its pair back through memory cost more than the compare.
#[inline(always)]
fn level_in_brackets(i: &[u8]) -> Option<(Level, &[u8])> {
    let (level, len) = match i {
        [b'I', b'N', b'F', b'O', b']', ..] => (Level::Info, 4),
        [b'D', b'E', b'B', b'U', b'G', b']', ..] => (Level::Debug, 5),
        [b'W', b'A', b'R', b'N', b']', ..] => (Level::Warning, 4),
        [b'W', b'A', b'R', b'N', b'I', b'N', b'G', b']', ..] => (Level::Warning, 7),
        [b'E', b'R', b'R', b'O', b'R', b']', ..] => (Level::Error, 5),
        [b'F', b'A', b'T', b'A', b'L', b']', ..] => (Level::Critical, 5),
        [b'C', b'R', b'I', b'T', b'I', b'C', b'A', b'L', b']', ..] => (Level::Critical, 8),
        _ => return None,
    };
    Some((level, &i[len + 1..]))
}

/// The last error-log and access-log time stamps a parser read, as their bytes, with their
/// times: consecutive lines nearly always carry the same second, decoded once. Kept by the
/// parser (a field read in place, not a thread-local behind a borrow flag).
#[derive(Debug, Clone, Default)]
pub struct Stamps {
    /// `[2025-10-16 08:00:00 +0000]`.
    log: Option<([u8; 27], Ts)>,
    /// `[16/Oct/2025:08:00:00 +0000]`.
    access: Option<([u8; 28], Ts)>,
}

/// The request-logging middleware's two messages, `INCOMING REQUEST: GET /a from 10.0.0.1
/// Host: h` and `RESPONSE: GET /a -> 200`, as [`super::django::message`] reads them.
#[inline(always)]
pub fn app_message(msg: &[u8]) -> Option<Event<'_>> {
    match msg.first()? {
        b'R' => response(msg.strip_prefix(b"RESPONSE: ")?),
        b'I' => incoming(msg.strip_prefix(b"INCOMING REQUEST: ")?),
        b'K' => k8s_internal(msg.strip_prefix(b"K8s internal request from ")?),
        _ => None,
    }
}

/// `10.96.27.85 - bypassing ALLOWED_HOSTS`, anything after it ignored.
#[inline]
fn k8s_internal(i: &[u8]) -> Option<Event<'_>> {
    let end = find_short(i, [b' '])?;
    if end == 0 || !i[end..].starts_with(b" - bypassing ALLOWED_HOSTS") {
        return None;
    }
    Some(Event::K8sInternal { ip: &i[..end] })
}

/// The bytes of an IPv4 or IPv6 address as the middleware logs the client: hex digits, `.`, `:`.
const IP_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_hexdigit() || b == b'.' || b == b':';
        c += 1;
    }
    t
};

/// `GET …` → the method and the rest after its space (`atoms::http_method` and a space).
/// Most requests are GETs and POSTs: their bytes are compared in the caller, with no call.
#[inline(always)]
fn method(i: &[u8]) -> Option<(&[u8], &[u8])> {
    match i {
        [b'G', b'E', b'T', b' ', ..] => Some((&i[..3], &i[4..])),
        [b'P', b'O', b'S', b'T', b' ', ..] => Some((&i[..4], &i[5..])),
        _ => other_method(i),
    }
}

/// [`method`] for the other methods: up to 16 capitals and a space.
#[inline(never)]
fn other_method(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = i
        .iter()
        .take(17)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    if !(1..=16).contains(&len) || i.get(len) != Some(&b' ') {
        return None;
    }
    Some((&i[..len], &i[len + 1..]))
}

/// `GET /a -> 200` with nothing after the status.
#[inline]
fn response(i: &[u8]) -> Option<Event<'_>> {
    let (method, i) = method(i)?;
    let at = i.len().checked_sub(7)?;
    let status = match i[at..] {
        [b' ', b'-', b'>', b' ', a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            let n = |d: u8| u16::from(d - b'0');
            n(a) * 100 + n(b) * 10 + n(c)
        }
        _ => return None,
    };
    Some(Event::Response {
        method,
        path: &i[..at],
        status,
    })
}

/// `GET /a from 10.0.0.1 Host: h` whose first `H` starts the ` Host: ` that ends the path
/// (else the general parser looks further).
#[inline]
fn incoming(i: &[u8]) -> Option<Event<'_>> {
    let (method, i) = method(i)?;
    let h = find_short(i, [b'H'])?;
    if h == 0 || i[h - 1] != b' ' || !i[h..].starts_with(b"Host: ") {
        return None;
    }
    let at = h - 1;
    let mut start = at;
    while start > 0 && IP_BYTE[usize::from(i[start - 1])] {
        start -= 1;
    }
    let from = start.checked_sub(6)?;
    if i[from..start] != *b" from " {
        return None;
    }
    Some(Event::Incoming {
        method,
        path: &i[..from],
        client: &i[start..at],
        host: &i[h + 6..],
    })
}

/// gunicorn's default access line, `%(h)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"` with
/// nothing after it, as [`super::access::access_line`] reads it (leaving no input).
#[inline]
pub fn access_line<'a>(line: &'a [u8], stamps: &mut Stamps) -> Option<Access<'a>> {
    let (mut access, rest) = before_user_agent(line, stamps)?;
    // The user agent ends the line.
    let agent = rest.strip_suffix(b"\"")?;
    if holds_either(agent, b'"', b'\\') {
        return None;
    }
    access.user_agent = Some(agent);
    Some(access)
}

/// An access line of the same shape with more after the user agent's closing quote (an edge's
/// own fields: ingress-nginx's, Traefik's): the line as [`access_line`] reads it and what
/// follows, as [`super::access::access_line`] reads them. Rare in an app's log.
#[cold]
pub fn access_line_then<'a>(line: &'a [u8], stamps: &mut Stamps) -> Option<(Access<'a>, &'a [u8])> {
    let (mut access, rest) = before_user_agent(line, stamps)?;
    let close = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[close] != b'"' {
        return None;
    }
    access.user_agent = Some(&rest[..close]);
    Some((access, &rest[close + 1..]))
}

/// The access line up to its user agent's opening quote, and the rest after it.
#[inline(always)]
fn before_user_agent<'a>(line: &'a [u8], stamps: &mut Stamps) -> Option<(Access<'a>, &'a [u8])> {
    let end = find_short(line, [b' ', b'"', b'['])?;
    let (client, rest) = line.split_at(end);
    let rest = rest.strip_prefix(b" - - [")?;
    // The time parser wants its bracket.
    let time = stamp(
        &line[line.len() - rest.len() - 1..],
        &mut stamps.access,
        access_log_time,
    )?;
    let (method, uri, rest) = request(rest.get(27..)?.strip_prefix(b" \"")?)?;
    let (status, rest) = status(rest)?;
    let rest = size(rest)?;
    // The referer, most often `"-"`.
    let rest = match rest.strip_prefix(b" \"-\" \"") {
        Some(rest) => rest,
        None => quoted(&rest[1..]).ok()?.0.strip_prefix(b" \"")?,
    };
    let access = Access {
        client,
        time: Some(time),
        method,
        uri,
        status,
        user_agent: None,
    };
    Some((access, rest))
}

/// `GET /a?b HTTP/1.1"` (after the opening quote) → the method, the URI and the rest after
/// the closing quote, when no quote or backslash comes before it.
#[inline(always)]
fn request(i: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (method, i) = method(i)?;
    let end = find_short(i, [b' ', b'"', b'\\'])?;
    if end == 0 {
        return None;
    }
    let (uri, after) = i.split_at(end);
    let rest = after
        .strip_prefix(b" HTTP/1.1\"")
        .or_else(|| after.strip_prefix(b" HTTP/1.0\""))?;
    Some((method, uri, rest))
}

/// ` 200` → 200 (100 to 599, three digits) and the rest.
#[inline]
fn status(i: &[u8]) -> Option<(u16, &[u8])> {
    match i {
        [b' ', a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..] => {
            let n = |d: &u8| u16::from(d - b'0');
            Some((n(a) * 100 + n(b) * 10 + n(c), rest))
        }
        _ => None,
    }
}

/// ` 61` or ` -` (the size) → the rest, which must go on with a space.
#[inline]
fn size(i: &[u8]) -> Option<&[u8]> {
    let i = i.strip_prefix(b" ")?;
    let digits = i.iter().take(10).take_while(|c| c.is_ascii_digit()).count();
    let rest = match digits {
        0 => i.strip_prefix(b"-")?,
        1..=9 => &i[digits..],
        _ => return None,
    };
    rest.starts_with(b" ").then_some(rest)
}

/// Whether `hay` holds byte `a` or `b`: 32 bytes at a time (the last block overlapping the
/// one before), where memchr2's set-up costs more than the scan of a user agent.
#[inline]
fn holds_either(hay: &[u8], a: u8, b: u8) -> bool {
    let Some(last) = hay.last_chunk::<32>() else {
        return find_short(hay, [a, b]).is_some();
    };
    let hit = |block: &[u8; 32]| bytes_mask(block, [a, b]) != 0;
    let mut blocks = hay.chunks_exact(32).filter_map(<[u8]>::first_chunk);
    blocks.any(hit) || hit(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::envelope::{Stripped, Unwrapper};
    use crate::parse::{access, django, gunicorn, LineParser};

    #[test]
    /// A stamp's bytes are only known again once read: before any, a line of NUL bytes where
    /// the stamp would be is no time (the cache starts empty, not as 27 zero bytes); once one
    /// is read, a line whose stamp differs in one byte is decoded, not taken for it.
    fn a_stamp_is_known_again_only_once_read() {
        let mut line = vec![0u8; 28];
        line.extend_from_slice(b"[36] [INFO] RESPONSE: GET / -> 200");
        let mut stamps = Stamps::default();
        assert_eq!(stamp(&line, &mut stamps.log, bracketed_log_time), None);
        assert_eq!(stamp(&line, &mut stamps.access, access_log_time), None);
        assert_eq!(error_log_prefix(&line, &mut stamps), None);
        let real = b"[2025-10-16 08:00:00 +0000] [36] [INFO] x";
        let first = error_log_prefix(real, &mut stamps).map(|r| r.0);
        assert_eq!(
            first.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-10-16T08:00:00.000Z")
        );
        assert_eq!(error_log_prefix(real, &mut stamps).map(|r| r.0), first);
        assert_eq!(stamp(&line, &mut stamps.log, bracketed_log_time), None);
        let later = b"[2025-10-16 08:00:01 +0000] [36] [INFO] x";
        let next = error_log_prefix(later, &mut stamps).map(|r| r.0.to_rfc3339());
        assert_eq!(next.as_deref(), Some("2025-10-16T08:00:01.000Z"));
    }

    #[test]
    /// The block-wise test finds a quote or backslash wherever it is: in a short field, at
    /// either edge of a block, in the overlapping last block; and none in a field without.
    fn holds_either_finds_a_quote_anywhere() {
        for len in [0, 1, 7, 31, 32, 33, 63, 64, 65, 100, 129] {
            let plain = vec![b'a'; len];
            assert!(!holds_either(&plain, b'"', b'\\'), "{len}");
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut v = plain.clone();
                    v[at] = c;
                    assert!(holds_either(&v, b'"', b'\\'), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn reads_the_prefix_and_leaves_the_message() {
        let line = b"[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET / -> 200";
        let (time, pid, level, msg) = error_log_prefix(line, &mut Stamps::default()).unwrap();
        assert_eq!(
            (pid, level, msg),
            (36, Level::Info, &b"RESPONSE: GET / -> 200"[..])
        );
        assert_eq!(time.to_rfc3339(), "2025-10-16T08:00:00.000Z");
        for other in [
            &b"2015-11-12 17:23:50 [17027] [INFO] x"[..],
            b"[2025-10-16 08:00:00 +0000] [1234567890] [INFO] x",
            b"[2025-10-16 08:00:00 +0000] [9999999999] [INFO] x",
            b"[2025-10-16 08:00:00 +0000] [36] [NOTICE] x",
            b"[2025-10-16 08:00:00 +0000] [] [INFO] x",
        ] {
            assert_eq!(error_log_prefix(other, &mut Stamps::default()), None);
        }
    }

    #[test]
    fn reads_the_default_access_line_whole() {
        let line =
            br#"10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] "GET /a?b HTTP/1.1" 304 - "-" "curl/8""#;
        let a = access_line(line, &mut Stamps::default()).unwrap();
        assert_eq!(
            (a.client, a.method, a.uri),
            (&b"10.0.0.1"[..], &b"GET"[..], &b"/a?b"[..])
        );
        assert_eq!((a.status, a.user_agent), (304, Some(&b"curl/8"[..])));
        // Fields after the user agent (ingress-nginx) are not the default shape: they are
        // left after it.
        let longer = [&line[..], b" 512 0.003"].concat();
        assert_eq!(access_line(&longer, &mut Stamps::default()), None);
        let then = access_line_then(&longer, &mut Stamps::default());
        assert_eq!(then, Some((a, &b" 512 0.003"[..])));
        // A backslash in the agent is left to the general parser, which reads escapes.
        let escaped = [&line[..line.len() - 1], b"\\\" x\" 1"].concat();
        assert_eq!(access_line_then(&escaped, &mut Stamps::default()), None);
    }

    /// What the general parsers make of `line`, when the fast ones answer: the same; and the
    /// same parse by a fresh parser with its fast path and without. `stamps`: the fast path's
    /// time stamps as the lines before left them, so that a stamp one byte off the last one
    /// is read too.
    fn agrees(line: &[u8], stamps: &mut Stamps) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(
            LineParser::default().parse_with(line, Some(&mut a)),
            LineParser::default().parse_general(line, Some(&mut b)),
            "{}",
            String::from_utf8_lossy(line)
        );
        if let Some((time, pid, level, msg)) = error_log_prefix(line, stamps) {
            let general = gunicorn::error_log_prefix(line).ok();
            assert_eq!(
                general,
                Some((msg, (time, pid, level))),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let msg = error_log_prefix(line, stamps).map_or(line, |(.., msg)| msg);
        if let Some(e) = app_message(msg) {
            let general = django::message(msg);
            assert_eq!(general, Some(e), "{}", String::from_utf8_lossy(line));
        }
        if let Some(a) = access_line(line, stamps) {
            let general = access::access_line(line).ok();
            assert_eq!(
                general,
                Some((&b""[..], a)),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        if let Some((a, tail)) = access_line_then(line, stamps) {
            let general = access::access_line(line).ok();
            assert_eq!(
                general,
                Some((tail, a)),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// Every payload of every capture in sample-logs/, file by file.
    fn capture_files() -> Vec<Vec<Vec<u8>>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "log") {
                    files.push(path);
                }
            }
        }
        let mut out = Vec::new();
        for file in files {
            let text = std::fs::read(file).unwrap();
            let mut unwrapper = Unwrapper::default();
            let mut lines = Vec::new();
            for raw in text.split(|&c| c == b'\n') {
                if let Stripped::Line(u) = unwrapper.strip(raw, &mut Vec::new()) {
                    lines.push(u.payload.into_owned());
                }
            }
            out.push(lines);
        }
        out
    }

    /// A parser with the fast path and one without read every capture file line by line: the
    /// same parse of every line, the same state after it (tracebacks and config dumps).
    #[test]
    fn the_parser_answers_alike_with_and_without_its_fast_path() {
        for lines in capture_files() {
            let (mut fast, mut general) = (LineParser::default(), LineParser::default());
            for line in &lines {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let with = fast.parse_with(line, Some(&mut a));
                let without = general.parse_general(line, Some(&mut b));
                assert_eq!(with, without, "{}", String::from_utf8_lossy(line));
                assert!(
                    fast.same_state(&general),
                    "{}",
                    String::from_utf8_lossy(line)
                );
            }
        }
    }

    /// The captures' lines, and one in eight of them with one byte changed, dropped or
    /// doubled at every place in its first 48 bytes and around its quotes, brackets and digits.
    #[test]
    fn fast_and_general_agree_on_captures_and_their_mutations() {
        let mut lines: Vec<_> = capture_files().into_iter().flatten().collect();
        lines.sort();
        lines.dedup();
        let (mut prefixes, mut accesses) = (0, 0);
        let mut stamps = Stamps::default();
        for (n, line) in lines.iter().enumerate() {
            agrees(line, &mut stamps);
            prefixes += usize::from(error_log_prefix(line, &mut stamps).is_some());
            accesses += usize::from(access_line(line, &mut stamps).is_some());
            if n % 8 != 0 {
                continue;
            }
            let places = (0..line.len()).filter(|&k| {
                k < 48
                    || matches!(
                        line[k],
                        b'"' | b'[' | b']' | b' ' | b'0'..=b'9' | b'-' | b'H' | b'>'
                    )
            });
            for k in places {
                for b in [
                    b' ', b'"', b'[', b']', b'-', b'0', b'9', b'x', b'\\', b'H', b'>',
                ] {
                    let mut m = line.clone();
                    m[k] = b;
                    agrees(&m, &mut stamps);
                }
                let mut dropped = line.clone();
                dropped.remove(k);
                agrees(&dropped, &mut stamps);
                let mut doubled = line.clone();
                doubled.insert(k, line[k]);
                agrees(&doubled, &mut stamps);
                agrees(&line[..k], &mut stamps);
            }
        }
        // The captures hold both shapes in numbers: the test compared something.
        assert!(prefixes > 500 && accesses > 500, "{prefixes} {accesses}");
    }
}
