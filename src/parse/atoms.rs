//! Atoms shared by every line family: timestamps, pids, levels, status codes, quoted fields.
//!
//! Each parser recognises one small piece of grammar and returns the rest of the input, so the
//! line-family parsers read as the format strings they mirror. The timestamp grammar they share
//! with the envelopes (dates, clocks, offsets, RFC 3339) is in `crate::time`.

use std::cell::RefCell;

use nom::bytes::complete::{tag, take, take_while, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{map_opt, opt, verify};
use nom::{IResult, Parser};

use crate::time::{clock, fixed_digits, iso_date, time_or_fail, utc_offset};
pub use crate::time::{may_start_with_date, rfc3339, Ts};

/// Result of every parser in this crate: the rest of the input and the value.
pub type PResult<'a, T> = IResult<&'a [u8], T>;

/// An unsigned decimal number of 1 to 9 digits (pids, exit codes, signal numbers).
pub fn number(i: &[u8]) -> PResult<'_, u32> {
    map_opt(take_while1(|c: u8| c.is_ascii_digit()), |d: &[u8]| {
        if d.len() > 9 {
            return None;
        }
        Some(
            d.iter()
                .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
        )
    })
    .parse(i)
}

/// The last time a time parser read on this thread, and the bytes it read it from (zero past
/// `len`; `mask` is 0xff for the first `len` bytes).
#[derive(Clone, Copy)]
struct Stamp {
    len: usize,
    bytes: [u8; 32],
    mask: [u8; 32],
    ts: Ts,
}

const NO_STAMP: Stamp = Stamp {
    len: 0,
    bytes: [0; 32],
    mask: [0; 32],
    ts: Ts(0),
};

impl Stamp {
    /// Whether `i` starts with the remembered bytes. Fixed-size and branch-free for lines of
    /// 32 bytes or more: a `memcmp` call per line was 4% of a run.
    fn starts(&self, i: &[u8]) -> bool {
        if self.len == 0 || i.len() < self.len {
            return false;
        }
        match <&[u8; 32]>::try_from(i.get(..32).unwrap_or(&[])) {
            Ok(head) => {
                let diff = head
                    .iter()
                    .zip(&self.mask)
                    .zip(&self.bytes)
                    .fold(0, |d, ((h, m), b)| d | ((h & m) ^ b));
                diff == 0
            }
            Err(_) => i[..self.len] == self.bytes[..self.len],
        }
    }
}

thread_local! {
    static LOG_TIME: RefCell<Stamp> = const { RefCell::new(NO_STAMP) };
    static ACCESS_TIME: RefCell<Stamp> = const { RefCell::new(NO_STAMP) };
}

/// `parse`, remembering its last result per thread: consecutive lines nearly always carry the
/// same second, and reading the date and clock again was ~10% of parsing. The same bytes give
/// the same time, so the answer is `parse`'s own. `seconds`: where the layout's two seconds
/// digits are, every byte before them being of fixed width.
fn remembered<'a>(
    i: &'a [u8],
    last: &'static std::thread::LocalKey<RefCell<Stamp>>,
    parse: fn(&[u8]) -> PResult<'_, Ts>,
    seconds: usize,
) -> PResult<'a, Ts> {
    // Read where it lies, as `fast::stamp` does, not copied out first.
    let known = last.with_borrow_mut(|s| match s.starts(i) {
        true => Some((s.len, s.ts)),
        false => s.next_second(i, seconds).map(|ts| (s.len, ts)),
    });
    if let Some((len, ts)) = known {
        return Ok((&i[len..], ts));
    }
    let (rest, ts) = parse(i)?;
    let len = i.len() - rest.len();
    if len <= 32 {
        let mut s = Stamp {
            len,
            ts,
            ..NO_STAMP
        };
        s.bytes[..len].copy_from_slice(&i[..len]);
        s.mask[..len].fill(0xff);
        last.set(s);
    }
    Ok((rest, ts))
}

impl Stamp {
    /// The time of `i` when it is the remembered text but for its seconds (at `at`): a stamp
    /// that differs only there reads as the same clock moved by the difference (the parser
    /// takes seconds 00 to 60 alike, and nothing else in the text moved). Remembered then.
    /// A new second was most of the misses, each ~430 instructions.
    fn next_second(&mut self, i: &[u8], at: usize) -> Option<Ts> {
        if at + 2 > self.len || i.len() < self.len {
            return None;
        }
        let two = |d: &[u8]| match d {
            [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(i64::from((a - b'0') * 10 + (b - b'0'))),
            _ => None,
        };
        let old = two(&self.bytes[at..at + 2])?;
        let new = two(&i[at..at + 2]).filter(|s| *s <= 60)?;
        let (head, tail) = (at, at + 2..self.len);
        if i[..head] != self.bytes[..head] || i[tail.clone()] != self.bytes[tail] {
            return None;
        }
        self.ts = Ts(self.ts.0 + (new - old) * Ts::MICROS_PER_SEC);
        self.bytes[at..at + 2].copy_from_slice(&i[at..at + 2]);
        Some(self.ts)
    }
}

/// Where the seconds are in `[2025-10-16 08:00:00 +0000]` and `[16/Oct/2025:08:00:00 +0000]`.
const LOG_SECONDS: usize = 18;
const ACCESS_SECONDS: usize = 19;

/// gunicorn ≥ 19.1.1 error-log time: `[2025-10-16 08:00:00 +0000]`.
pub fn bracketed_log_time(i: &[u8]) -> PResult<'_, Ts> {
    remembered(i, &LOG_TIME, read_bracketed_log_time, LOG_SECONDS)
}

fn read_bracketed_log_time(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (_, date, _, time, _, off, _)) = (
        char('['),
        iso_date,
        char(' '),
        clock,
        char(' '),
        utc_offset,
        char(']'),
    )
        .parse(i)?;
    time_or_fail(i, Ts::from_civil(date, time, 0, off))
}

/// Python logging's `asctime` without brackets: `2015-11-12 17:23:50` with an optional
/// `,123` milliseconds part (gunicorn ≤ 19.1, and Python's default format). No offset: UTC.
pub fn plain_log_time(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (date, _, time, millis)) = (
        iso_date,
        char(' '),
        clock,
        opt((one_of(",."), fixed_digits(3))),
    )
        .parse(i)?;
    let micros = millis.map_or(0, |(_, ms)| ms * 1000);
    time_or_fail(i, Ts::from_civil(date, time, micros, 0))
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A parse that does not match at `i`: for the checks nom's combinators cannot say (a request
/// line that is not one, a record missing its fields).
pub fn no_match<T>(i: &[u8]) -> PResult<'_, T> {
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Verify,
    )))
}

/// An English month abbreviation (`Jan` … `Dec`) → its number (1–12).
pub fn month_abbrev(i: &[u8]) -> PResult<'_, u32> {
    map_opt(take(3usize), |m: &[u8]| {
        MONTHS.iter().position(|x| *x == m).map(|p| p as u32 + 1)
    })
    .parse(i)
}

/// gunicorn access-log time (strftime `[%d/%b/%Y:%H:%M:%S %z]`): `[28/Nov/2026:02:23:44 +0000]`.
pub fn access_log_time(i: &[u8]) -> PResult<'_, Ts> {
    remembered(i, &ACCESS_TIME, read_access_log_time, ACCESS_SECONDS)
}

fn read_access_log_time(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (_, d, _, m, _, y, _, time, _, off, _)) = (
        char('['),
        fixed_digits(2),
        char('/'),
        month_abbrev,
        char('/'),
        fixed_digits(4),
        char(':'),
        clock,
        char(' '),
        utc_offset,
        char(']'),
    )
        .parse(i)?;
    time_or_fail(i, Ts::from_civil((i64::from(y), m, d), time, 0, off))
}

/// Django runserver time (`[%d/%b/%Y %H:%M:%S]`, local time without offset): `[27/Nov/2026 20:26:06]`.
pub fn runserver_time(i: &[u8]) -> PResult<'_, Ts> {
    let (i, (_, d, _, m, _, y, _, time, _)) = (
        char('['),
        fixed_digits(2),
        char('/'),
        month_abbrev,
        char('/'),
        fixed_digits(4),
        char(' '),
        clock,
        char(']'),
    )
        .parse(i)?;
    time_or_fail(i, Ts::from_civil((i64::from(y), m, d), time, 0, 0))
}

/// A process id in brackets, as `%(process)d` is printed: `[36]`.
pub fn bracketed_pid(i: &[u8]) -> PResult<'_, u32> {
    let (i, (_, pid, _)) = (char('['), number, char(']')).parse(i)?;
    Ok((i, pid))
}

/// Python logging level names (and the short forms some formatters use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

/// A bare level name: `INFO`, `WARNING`, `WARN`, `CRITICAL` …
pub fn level_name(i: &[u8]) -> PResult<'_, Level> {
    map_opt(
        take_while1(|c: u8| c.is_ascii_alphabetic()),
        |w: &[u8]| {
            Some(match w {
                b"DEBUG" => Level::Debug,
                b"INFO" => Level::Info,
                b"WARNING" | b"WARN" => Level::Warning,
                b"ERROR" => Level::Error,
                b"CRITICAL" | b"FATAL" => Level::Critical,
                _ => return None,
            })
        },
    )
    .parse(i)
}

/// A level in brackets: `[INFO]`.
pub fn bracketed_level(i: &[u8]) -> PResult<'_, Level> {
    let (i, (_, level, _)) = (char('['), level_name, char(']')).parse(i)?;
    Ok((i, level))
}

/// A three-digit HTTP status code (100–599).
pub fn status_code(i: &[u8]) -> PResult<'_, u16> {
    let (i, s) = verify(fixed_digits(3), |s| (100..=599).contains(s)).parse(i)?;
    Ok((i, s as u16))
}

/// An HTTP method token as servers log it: upper-case letters (`GET`, `PROPFIND` …).
pub fn http_method(i: &[u8]) -> PResult<'_, &[u8]> {
    verify(take_while1(|c: u8| c.is_ascii_uppercase()), |m: &[u8]| {
        m.len() <= 16
    })
    .parse(i)
}

/// A run of bytes up to the next space (or the end).
pub fn token(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|c: u8| c != b' ').parse(i)
}

/// The inside of a double-quoted field whose quotes are escaped as `\"` (gunicorn access
/// atoms). Returns the raw inside, escapes kept.
pub fn quoted(i: &[u8]) -> PResult<'_, &[u8]> {
    let (body, _) = char('"').parse(i)?;
    let mut k = 0;
    while let Some(at) = body.get(k..).and_then(|b| memchr::memchr2(b'\\', b'"', b)) {
        k += at;
        if body[k] == b'"' {
            return Ok((&body[k + 1..], &body[..k]));
        }
        k += 2;
    }
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Char,
    )))
}

/// A Python `repr()` of a string: `'host'`, `"bad'host"`, `u'host'` (Python 2). Returns the
/// inside as printed, escapes kept (`\x1b` stays four characters, which is what we want to show).
pub fn python_repr(i: &[u8]) -> PResult<'_, &[u8]> {
    let (i, _) = opt(char('u')).parse(i)?;
    let (body, q) = one_of("'\"").parse(i)?;
    let q = q as u8;
    let mut k = 0;
    while k < body.len() {
        match body[k] {
            b'\\' => k += 2,
            c if c == q => return Ok((&body[k + 1..], &body[..k])),
            _ => k += 1,
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Char,
    )))
}

/// One or more spaces.
pub fn spaces(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|c: u8| c == b' ').parse(i)
}

/// Zero or more spaces.
pub fn opt_spaces(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while(|c: u8| c == b' ').parse(i)
}

/// The literal `s`, followed by the end of the input.
pub fn tag_end<'a>(s: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, &'a [u8]> {
    move |i| {
        let (rest, t) = tag(s.as_bytes()).parse(i)?;
        if rest.is_empty() {
            Ok((rest, t))
        } else {
            Err(nom::Err::Error(nom::error::Error::new(
                rest,
                nom::error::ErrorKind::Eof,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_log_time_reads_offset() {
        let (rest, t) = bracketed_log_time(b"[2025-10-16 08:00:00 +0000] [36]").unwrap();
        assert_eq!(rest, b" [36]");
        let (_, chicago) = bracketed_log_time(b"[2025-10-16 03:00:00 -0500]").unwrap();
        assert_eq!(t, chicago);
        assert_eq!(t.to_rfc3339(), "2025-10-16T08:00:00.000Z");
    }

    #[test]
    fn remembered_times_are_the_parsers_own() {
        // The same text twice (the second from the cache), then another, then the first again.
        let a = b"[2025-10-16 08:00:00 +0000] [36]";
        let b = b"[2025-10-16 08:00:01 +0000]x";
        for line in [&a[..], a, b, a, b] {
            assert_eq!(bracketed_log_time(line), read_bracketed_log_time(line));
        }
        // A prefix of the remembered text is not a match; nor is a near miss.
        assert!(bracketed_log_time(b"[2025-10-16 08:00:00 +00").is_err());
        assert!(bracketed_log_time(b"[2025-10-16 08:00:00 +0000").is_err());
        assert!(
            bracketed_log_time(b"[2025-10-16 08:00:00 +0100]")
                .unwrap()
                .1
                != read_bracketed_log_time(a).unwrap().1
        );
        let c = b"[16/Oct/2025:08:00:00 +0000] \"GET";
        for line in [&c[..], c, b"[16/Oct/2025:08:00:00 -0100]", c] {
            assert_eq!(access_log_time(line), read_access_log_time(line));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// Whatever follows the remembered stamp (the next second, a leap second, a second
        /// the parser refuses, another minute or offset, a cut line), the time read is the
        /// parser's own.
        #[test]
        fn remembered_times_follow_any_sequence(
            steps in proptest::collection::vec((0u8..100, 0u8..6, proptest::bool::ANY), 1..60)
        ) {
            for (sec, change, access) in steps {
                let (minute, offset) = match change {
                    1 => ("01", "+0000"),
                    2 => ("00", "-0130"),
                    _ => ("00", "+0000"),
                };
                let second = match change {
                    3 => format!("{}x", sec % 10),
                    _ => format!("{sec:02}"),
                };
                let text = match access {
                    true => format!("[16/Oct/2025:08:{minute}:{second} {offset}] \"GET"),
                    false => format!("[2025-10-16 08:{minute}:{second} {offset}] [36]"),
                };
                let cut = if change == 4 { text.len() - 9 } else { text.len() };
                let line = &text.as_bytes()[..cut];
                match access {
                    true => proptest::prop_assert_eq!(access_log_time(line), read_access_log_time(line)),
                    false => proptest::prop_assert_eq!(bracketed_log_time(line), read_bracketed_log_time(line)),
                }
            }
        }
    }

    #[test]
    fn bracketed_log_time_rejects_impossible_dates() {
        assert!(bracketed_log_time(b"[2025-13-16 08:00:00 +0000]").is_err());
        assert!(bracketed_log_time(b"[2025-10-16 25:00:00 +0000]").is_err());
        assert!(bracketed_log_time(b"[2025-10-16 08:00:00 +00").is_err());
    }

    #[test]
    fn plain_log_time_with_and_without_millis() {
        let (rest, a) = plain_log_time(b"2015-11-12 17:23:50 [17027]").unwrap();
        assert_eq!(rest, b" [17027]");
        let (rest, b) = plain_log_time(b"2015-11-12 17:23:50,250 INFO").unwrap();
        assert_eq!(rest, b" INFO");
        assert_eq!(b.0 - a.0, 250_000);
    }

    #[test]
    fn access_and_runserver_times() {
        let (rest, a) = access_log_time(b"[28/Nov/2026:02:23:44 +0000] \"GET").unwrap();
        assert_eq!(rest, b" \"GET");
        assert_eq!(a.to_rfc3339(), "2026-11-28T02:23:44.000Z");
        let (rest, r) = runserver_time(b"[27/Nov/2026 20:26:06] \"GET").unwrap();
        assert_eq!(rest, b" \"GET");
        assert_eq!(r.to_rfc3339(), "2026-11-27T20:26:06.000Z");
        assert!(access_log_time(b"[28/Foo/2026:02:23:44 +0000]").is_err());
    }

    #[test]
    fn pid_level_status_method() {
        assert_eq!(bracketed_pid(b"[36] x").unwrap(), (&b" x"[..], 36));
        assert!(bracketed_pid(b"[12345678901]").is_err());
        assert_eq!(
            bracketed_level(b"[CRITICAL] W").unwrap(),
            (&b" W"[..], Level::Critical)
        );
        assert!(bracketed_level(b"[NOTICE]").is_err());
        assert_eq!(status_code(b"404 179").unwrap(), (&b" 179"[..], 404));
        assert!(status_code(b"999").is_err());
        assert_eq!(http_method(b"GET /").unwrap(), (&b" /"[..], &b"GET"[..]));
        assert!(http_method(b"get /").is_err());
    }

    #[test]
    fn quoted_and_repr_keep_escapes() {
        assert_eq!(
            quoted(b"\"GET /a\\\"b HTTP/1.1\" 200").unwrap(),
            (&b" 200"[..], &b"GET /a\\\"b HTTP/1.1"[..])
        );
        assert!(quoted(b"\"unterminated").is_err());
        assert!(quoted(b"\"ends in an escape\\\"").is_err());
        assert_eq!(quoted(b"\"a\\\\\" b").unwrap(), (&b" b"[..], &b"a\\\\"[..]));
        assert_eq!(quoted(b"\"\"").unwrap(), (&b""[..], &b""[..]));
        assert_eq!(
            python_repr(b"'10.0.0.1:80'. You").unwrap(),
            (&b". You"[..], &b"10.0.0.1:80"[..])
        );
        assert_eq!(
            python_repr(b"\"bad'host\". x").unwrap(),
            (&b". x"[..], &b"bad'host"[..])
        );
        assert_eq!(
            python_repr(b"u'www.example.it.' to").unwrap(),
            (&b" to"[..], &b"www.example.it."[..])
        );
        assert_eq!(
            python_repr(b"'\\x1b]0;pwned\\x07'").unwrap().1,
            &b"\\x1b]0;pwned\\x07"[..]
        );
    }

    #[test]
    fn number_limits() {
        assert_eq!(number(b"123abc").unwrap(), (&b"abc"[..], 123));
        assert!(number(b"1234567890").is_err());
        assert!(number(b"x").is_err());
    }
}
