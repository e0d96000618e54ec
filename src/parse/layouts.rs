//! Plain-text line prefixes other than gunicorn's own: Django's documented `verbose` and
//! `simple` formatters, Python's `basicConfig` and `%(asctime)s %(levelname)s %(message)s`,
//! standalone uvicorn's padded level, and the layouts teams build from `%(asctime)s`,
//! `%(levelname)s` and `%(name)s` in any order, each bare or in brackets, joined by ` - `,
//! ` | `, `: ` or spaces (dictConfig examples everywhere: `%(asctime)s - %(name)s -
//! %(levelname)s - %(message)s`, `[%(asctime)s] %(levelname)s | %(name)s | %(message)s`).
//!
//! Each returns what the prefix carries and the message after it; the message is then read by
//! the same message parsers as a gunicorn-prefixed line.

use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, one_of};
use nom::combinator::{map, opt, verify};
use nom::sequence::delimited;
use nom::Parser;

use super::atoms::{
    level_name, no_match, number, opt_spaces, plain_log_time, spaces, Level, PResult, Ts,
};

/// What a prefix told about its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefix {
    pub time: Option<Ts>,
    pub pid: Option<u32>,
    pub thread: Option<u64>,
    pub level: Option<Level>,
}

fn thread_id(i: &[u8]) -> PResult<'_, u64> {
    let (i, digits) = take_while1(|c: u8| c.is_ascii_digit()).parse(i)?;
    match std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
    {
        Some(t) => Ok((i, t)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// Django `verbose`: `{levelname} {asctime} {module} {process:d} {thread:d} {message}`, e.g.
/// `INFO 2026-11-28 03:10:00,123 middleware 4711 140235 INCOMING REQUEST: …`.
pub fn django_verbose(i: &[u8]) -> PResult<'_, Prefix> {
    let (i, (level, _, time, _, _module, _, pid, _, thread, _)) = (
        level_name,
        char(' '),
        plain_log_time,
        char(' '),
        take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.'),
        char(' '),
        number,
        char(' '),
        thread_id,
        char(' '),
    )
        .parse(i)?;
    let p = Prefix {
        time: Some(time),
        pid: Some(pid),
        thread: Some(thread),
        level: Some(level),
    };
    Ok((i, p))
}

/// `%(asctime)s %(levelname)s %(message)s`: `2026-11-28 03:10:00,123 INFO …`, also with the
/// level in brackets or followed by a colon.
pub fn asctime_level(i: &[u8]) -> PResult<'_, Prefix> {
    let (i, (time, _)) = (plain_log_time, spaces).parse(i)?;
    let i = i.strip_prefix(b"[").unwrap_or(i);
    let (i, level) = level_name(i)?;
    let i = i
        .strip_prefix(b"]")
        .or_else(|| i.strip_prefix(b":"))
        .unwrap_or(i);
    let (i, _) = spaces(i)?;
    Ok((
        i,
        Prefix {
            time: Some(time),
            level: Some(level),
            ..Prefix::default()
        },
    ))
}

/// `logging.basicConfig`'s `LEVEL:logger:message`: `WARNING:django.request:Not Found: /x`.
pub fn level_logger(i: &[u8]) -> PResult<'_, Prefix> {
    let (i, (level, _, _logger, _)) = (
        level_name,
        char(':'),
        take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.'),
        char(':'),
    )
        .parse(i)?;
    Ok((
        i,
        Prefix {
            level: Some(level),
            ..Prefix::default()
        },
    ))
}

/// Standalone uvicorn: `INFO:     Started server process [7]` (level and colon padded to 10).
pub fn uvicorn_level(i: &[u8]) -> PResult<'_, Prefix> {
    let (i, (level, _, _)) = (level_name, char(':'), spaces).parse(i)?;
    Ok((
        i,
        Prefix {
            level: Some(level),
            ..Prefix::default()
        },
    ))
}

/// Django `simple`: `{levelname} {message}`: `WARNING Not Found: /x`.
pub fn level_space(i: &[u8]) -> PResult<'_, Prefix> {
    let (i, (level, _)) = (level_name, char(' ')).parse(i)?;
    Ok((
        i,
        Prefix {
            level: Some(level),
            ..Prefix::default()
        },
    ))
}

/// One piece of a Python logging layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// `%(asctime)s`
    Time(Ts),
    /// `%(levelname)s`
    Level(Level),
    /// `%(name)s`, the logger's name.
    Name,
}

/// The separator between two pieces, or before the message: ` - `, ` | `, `: `, or spaces
/// (`%(levelname)-8s` pads with them). Whether it is a mark (`-`, `|`, `:`), not spaces only.
pub fn piece_separator(i: &[u8]) -> PResult<'_, bool> {
    let (i, (lead, mark, trail)) = (opt_spaces, opt(one_of("-|:")), opt_spaces).parse(i)?;
    // Something must part the pieces (spaces, or a mark followed by a space), and something
    // must follow.
    let parted = if mark.is_some() {
        !trail.is_empty()
    } else {
        !lead.is_empty()
    };
    if !parted || i.is_empty() {
        return no_match(i);
    }
    Ok((i, mark.is_some()))
}

/// A logger's name: `django.request`, `myapp.views`, `root` (letters, digits, `_`, `.`, `-`).
pub fn logger_name(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')).parse(i)
}

/// A logger's name where no brackets mark it: it must look like one (a lower-case letter or
/// a dot, unlike `RESPONSE` or `INCOMING`) and be followed by a marked separator (a message's
/// first word is followed by a space: `Not Found: /x`).
pub fn bare_logger_name(i: &[u8]) -> PResult<'_, &[u8]> {
    let looks = |n: &[u8]| {
        n.iter().any(|c| c.is_ascii_lowercase() || *c == b'.') && n[0].is_ascii_alphabetic()
    };
    let (_, n) = verify(logger_name, |n: &[u8]| looks(n)).parse(i)?;
    // `name - `, `name | `, `name: `; the dash is no part of the name then.
    let n = n.strip_suffix(b"-").unwrap_or(n);
    let rest = &i[n.len()..];
    match piece_separator(rest) {
        Ok((_, true)) => Ok((rest, n)),
        _ => no_match(i),
    }
}

/// A piece bare or in brackets: `2026-11-28 03:46:52,123`, `[ERROR]`, `[django.request]`.
pub fn piece(i: &[u8]) -> PResult<'_, Piece> {
    let inner = |i| {
        alt((
            map(plain_log_time, Piece::Time),
            map(level_name, Piece::Level),
        ))
        .parse(i)
    };
    alt((
        delimited(char('['), inner, char(']')),
        inner,
        map(delimited(char('['), logger_name, char(']')), |_| {
            Piece::Name
        }),
        map(bare_logger_name, |_| Piece::Name),
    ))
    .parse(i)
}

/// A Python logging layout of two or three pieces (the level among them, none twice) and the
/// message after them: `2026-11-28 03:46:52,123 - django.request - ERROR - Internal Server
/// Error: /boom/`, `[2026-11-28 03:46:52,123] ERROR | django.security | Invalid HTTP_HOST …`.
pub fn python_layout(i: &[u8]) -> PResult<'_, Prefix> {
    let (mut i, first) = piece(i)?;
    let mut prefix = Prefix::default();
    let mut name = false;
    let mut put = |p: Piece, prefix: &mut Prefix| -> bool {
        match p {
            Piece::Time(t) if prefix.time.is_none() => prefix.time = Some(t),
            Piece::Level(l) if prefix.level.is_none() => prefix.level = Some(l),
            Piece::Name if !name => name = true,
            _ => return false,
        }
        true
    };
    put(first, &mut prefix);
    let mut pieces = 1;
    loop {
        let (rest, _) = piece_separator(i)?;
        match piece(rest) {
            Ok((after, p)) if pieces < 3 && put(p, &mut prefix) => {
                i = after;
                pieces += 1;
            }
            // The message starts after the separator.
            _ => {
                i = rest;
                break;
            }
        }
    }
    if prefix.level.is_none() || pieces < 2 {
        return no_match(i);
    }
    Ok((i, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose() {
        let (rest, p) = django_verbose(
            b"INFO 2026-11-28 03:10:00,123 middleware 4711 140235 RESPONSE: GET / -> 200",
        )
        .unwrap();
        assert_eq!(rest, b"RESPONSE: GET / -> 200");
        assert_eq!(
            (p.pid, p.thread, p.level),
            (Some(4711), Some(140235), Some(Level::Info))
        );
        assert_eq!(p.time.unwrap().to_rfc3339(), "2026-11-28T03:10:00.123Z");
        assert!(django_verbose(b"INFO Not Found: /x").is_err());
    }

    #[test]
    fn asctime_forms() {
        for line in [
            &b"2026-11-28 03:10:00,123 INFO Not Found: /x"[..],
            b"2026-11-28 03:10:00,123 [INFO] Not Found: /x",
            b"2026-11-28 03:10:00,123 INFO: Not Found: /x",
        ] {
            let (rest, p) = asctime_level(line).unwrap();
            assert_eq!(rest, b"Not Found: /x");
            assert_eq!(p.level, Some(Level::Info));
        }
    }

    #[test]
    fn basic_uvicorn_simple() {
        let (rest, p) = level_logger(b"WARNING:django.request:Not Found: /x").unwrap();
        assert_eq!(
            (rest, p.level),
            (&b"Not Found: /x"[..], Some(Level::Warning))
        );
        let (rest, _) = uvicorn_level(b"INFO:     Started server process [7]").unwrap();
        assert_eq!(rest, b"Started server process [7]");
        assert!(uvicorn_level(b"INFO:django:x").is_err());
        let (rest, _) = level_space(b"ERROR Internal Server Error: /boom/").unwrap();
        assert_eq!(rest, b"Internal Server Error: /boom/");
        assert!(level_space(b"INFORMATION x").is_err());
    }

    #[test]
    fn separators() {
        assert_eq!(piece_separator(b" - x"), Ok((&b"x"[..], true)));
        assert_eq!(piece_separator(b" | x"), Ok((&b"x"[..], true)));
        assert_eq!(piece_separator(b": x"), Ok((&b"x"[..], true)));
        assert_eq!(piece_separator(b"    x"), Ok((&b"x"[..], false)));
        assert!(piece_separator(b"x").is_err());
        assert!(piece_separator(b":x").is_err());
        assert!(piece_separator(b" - ").is_err());
    }

    #[test]
    fn pieces() {
        assert_eq!(
            piece(b"[ERROR] x"),
            Ok((&b" x"[..], Piece::Level(Level::Error)))
        );
        assert_eq!(
            piece(b"WARNING - x"),
            Ok((&b" - x"[..], Piece::Level(Level::Warning)))
        );
        assert_eq!(piece(b"[django.request] x"), Ok((&b" x"[..], Piece::Name)));
        assert_eq!(
            piece(b"django.request - x"),
            Ok((&b" - x"[..], Piece::Name))
        );
        assert_eq!(piece(b"django.server: x"), Ok((&b": x"[..], Piece::Name)));
        let (rest, t) = piece(b"[2026-11-28 03:46:52,123] x").unwrap();
        assert!(matches!(t, Piece::Time(_)));
        assert_eq!(rest, b" x");
        // Message words are no logger names.
        assert!(piece(b"RESPONSE: GET / -> 200").is_err());
        assert!(piece(b"Not Found: /x").is_err());
        assert!(piece(b"myapp RESPONSE").is_err());
    }

    #[test]
    fn python_layouts() {
        for (line, msg) in [
            (
                &b"2026-11-28 03:46:52,123 - django.request - ERROR - Internal Server Error: /boom/"[..],
                &b"Internal Server Error: /boom/"[..],
            ),
            (
                b"[2026-11-28 03:46:52,123] ERROR | django.security | Invalid HTTP_HOST header: 'x'.",
                b"Invalid HTTP_HOST header: 'x'.",
            ),
            (
                b"2026-11-28 03:46:52,123 ERROR django.request: Internal Server Error: /boom/",
                b"Internal Server Error: /boom/",
            ),
            (
                b"[2026-11-28 03:46:52,123] [ERROR] [django.request] Internal Server Error: /boom/",
                b"Internal Server Error: /boom/",
            ),
            (
                b"2026-11-28 03:46:52,123 [ERROR] django.request: Internal Server Error: /boom/",
                b"Internal Server Error: /boom/",
            ),
            (
                b"ERROR 2026-11-28 03:46:52,123 django.request Internal Server Error: /boom/",
                b"django.request Internal Server Error: /boom/",
            ),
            (
                b"ERROR - 2026-11-28 03:46:52,123 - django.request - Internal Server Error: /boom/",
                b"Internal Server Error: /boom/",
            ),
            (
                b"2026-11-28 03:46:52,123 INFO     RESPONSE: GET / -> 200",
                b"RESPONSE: GET / -> 200",
            ),
            (
                b"2026-11-28 03:46:52,123 | WARNING | Not Found: /x",
                b"Not Found: /x",
            ),
        ] {
            let (rest, p) = python_layout(line).unwrap_or_else(|e| panic!("{e:?}: {line:?}"));
            assert_eq!(rest, msg, "{}", String::from_utf8_lossy(line));
            assert!(p.level.is_some() && p.time.is_some());
        }
        // A level alone, or two of one piece, is not such a layout.
        assert!(python_layout(b"ERROR Internal Server Error: /boom/").is_err());
        assert!(python_layout(b"ERROR - ERROR - x").is_err());
        assert!(python_layout(b"2026-11-28 03:46:52,123 - django.request - x").is_err());
    }
}
