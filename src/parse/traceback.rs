//! Python tracebacks and gunicorn's `--log-level debug` configuration dump: the continuation
//! lines that follow a log record and mean something only in its context.
//!
//! A traceback's last line `ExcType: message` repeats text such as `Invalid HTTP_HOST header`
//! (Django ≥ 4.1 logs DisallowedHost with `exc_info`), so these lines must be read as part of
//! the record above them, never as records of their own.

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{opt, recognize, rest};
use nom::multi::many0;
use nom::Parser;

use super::atoms::PResult;

pub const TRACEBACK_START: &[u8] = b"Traceback (most recent call last):";

/// Lines between two chained tracebacks.
pub fn is_chain_separator(line: &[u8]) -> bool {
    line.starts_with(b"During handling of the above exception")
        || line.starts_with(b"The above exception was the direct cause")
}

fn identifier(i: &[u8]) -> PResult<'_, &[u8]> {
    recognize((
        take_while1(|c: u8| c.is_ascii_alphabetic() || c == b'_'),
        take_while(|c: u8| c.is_ascii_alphanumeric() || c == b'_'),
    ))
    .parse(i)
}

/// The last line of a traceback: `django.core.exceptions.DisallowedHost: Invalid …`,
/// `SystemExit: 1`, `KeyboardInterrupt`. Returns (dotted type name, message).
pub fn exception_line(i: &[u8]) -> PResult<'_, (&[u8], &[u8])> {
    let (i, name) = recognize((identifier, many0((tag("."), identifier)))).parse(i)?;
    if i.is_empty() {
        return Ok((i, (name, i)));
    }
    let (i, _) = tag(":").parse(i)?;
    let (i, _) = opt(tag(" ")).parse(i)?;
    let (i, message) = rest(i)?;
    Ok((i, (name, message)))
}

/// One `  name: value` line of gunicorn's `Current configuration:` dump.
pub fn config_value(i: &[u8]) -> PResult<'_, (&[u8], &[u8])> {
    let (i, (_, key, _, value)) = (
        tag("  "),
        take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'_'),
        tag(":"),
        rest,
    )
        .parse(i)?;
    Ok((i, (key, value.strip_prefix(b" ").unwrap_or(value))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_lines() {
        let (rest, (t, m)) = exception_line(
            b"django.core.exceptions.DisallowedHost: Invalid HTTP_HOST header: 'x'.",
        )
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(t, b"django.core.exceptions.DisallowedHost");
        assert_eq!(m, b"Invalid HTTP_HOST header: 'x'.");
        assert_eq!(
            exception_line(b"SystemExit: 1").unwrap().1,
            (&b"SystemExit"[..], &b"1"[..])
        );
        assert_eq!(
            exception_line(b"KeyboardInterrupt").unwrap().1,
            (&b"KeyboardInterrupt"[..], &b""[..])
        );
        assert!(exception_line(b"  File \"x.py\", line 1").is_err());
        assert!(exception_line(b"two words").is_err());
    }

    #[test]
    fn config_values() {
        let (rest, kv) = config_value(b"  timeout: 30").unwrap();
        assert!(rest.is_empty());
        assert_eq!(kv, (&b"timeout"[..], &b"30"[..]));
        assert_eq!(
            config_value(b"  bind: ['127.0.0.1:8000']").unwrap().1 .0,
            b"bind"
        );
        assert!(config_value(b"timeout: 30").is_err());
    }

    #[test]
    fn chain_separators() {
        assert!(is_chain_separator(
            b"During handling of the above exception, another exception occurred:"
        ));
        assert!(!is_chain_separator(b"During the day"));
    }
}
