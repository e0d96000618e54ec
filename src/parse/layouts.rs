//! Plain-text line prefixes other than gunicorn's own: Django's documented `verbose` and
//! `simple` formatters, Python's `basicConfig` and `%(asctime)s %(levelname)s %(message)s`,
//! and standalone uvicorn's padded level.
//!
//! Each returns what the prefix carries and the message after it; the message is then read by
//! the same message parsers as a gunicorn-prefixed line.

use nom::bytes::complete::take_while1;
use nom::character::complete::char;
use nom::Parser;

use super::atoms::{level_name, number, plain_log_time, spaces, Level, PResult, Ts};

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
}
