//! Instants, and the timestamp grammar shared by the envelopes (`input::envelope`: docker's
//! and the CRI's RFC 3339 times) and the log lines (`parse::atoms`: gunicorn's, Python's and
//! Django's). Below both, so that reading an envelope needs nothing of the parsers.
//!
//! Timestamps are converted to UTC instants here, by hand, because they are parsed on every
//! line and chrono's strftime-style parsing is an order of magnitude slower than reading
//! fixed-width digits.

use nom::bytes::complete::take;
use nom::character::complete::{char, one_of};
use nom::combinator::{map_opt, opt};
use nom::{IResult, Parser};

/// How precise a line's time is: docker, kubectl and CRI envelopes give sub-second times,
/// gunicorn's own `[2026-11-28 03:46:52 +0000]` whole seconds. Ordered: the less precise of two
/// times is their `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Seconds,
    SubSecond,
}

/// An instant, in microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

impl Ts {
    pub(crate) const MICROS_PER_SEC: i64 = 1_000_000;

    /// Builds an instant from a civil date and time in a zone `offset_secs` east of UTC.
    /// Returns `None` for impossible dates (month 13, day 32, hour 25 …).
    pub fn from_civil(
        (year, month, day): (i64, u32, u32),
        (hour, min, sec): (u32, u32, u32),
        micros: u32,
        offset_secs: i64,
    ) -> Option<Ts> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 {
            return None;
        }
        // Leap second 60 is accepted and folded into the next second, as chrono does.
        if sec > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec) - offset_secs;
        Some(Ts(secs * Self::MICROS_PER_SEC + i64::from(micros)))
    }

    /// RFC 3339 in UTC with millisecond precision, for reports: `2025-10-16T08:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        match self.rfc3339_text() {
            Some(text) => text.iter().map(|&b| char::from(b)).collect(),
            None => self.to_rfc3339_by_chrono(),
        }
    }

    /// [`Ts::to_rfc3339`]'s text, written by hand for years 0–9999 (`--format ndjson` writes
    /// one per request, and chrono's formatting machinery was a twentieth of such a run);
    /// `None` for other years, which chrono writes.
    fn rfc3339_text(self) -> Option<[u8; 24]> {
        let secs = self.0.div_euclid(Self::MICROS_PER_SEC);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let year @ 0..=9999 = u32::try_from(year).ok()? else {
            return None;
        };
        let of_day = secs.rem_euclid(86_400) as u32;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut two = |at: usize, n: u32| {
            text[at] = b'0' + (n / 10) as u8;
            text[at + 1] = b'0' + (n % 10) as u8;
        };
        two(0, year / 100);
        two(2, year % 100);
        two(5, month);
        two(8, day);
        two(11, of_day / 3600);
        two(14, of_day / 60 % 60);
        two(17, of_day % 60);
        text[20..].copy_from_slice(&self.millis_text());
        Some(text)
    }

    /// The end of [`Ts::to_rfc3339`]'s text: the milliseconds' three digits and `Z`.
    fn millis_text(self) -> [u8; 4] {
        let millis = (self.0.rem_euclid(Self::MICROS_PER_SEC) / 1000) as u16;
        let digit = |n: u16| b'0' + (n % 10) as u8;
        [digit(millis / 100), digit(millis / 10), digit(millis), b'Z']
    }

    /// [`Ts::to_rfc3339`] by chrono, for the years it does not write by hand.
    fn to_rfc3339_by_chrono(self) -> String {
        let secs = self.0.div_euclid(Self::MICROS_PER_SEC);
        let nanos = (self.0.rem_euclid(Self::MICROS_PER_SEC) * 1000) as u32;
        match chrono::DateTime::from_timestamp(secs, nanos) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            None => String::from("invalid time"),
        }
    }
}

/// Writes times one after another as [`Ts::to_rfc3339`] does, keeping the text of the last
/// second written: times written in order mostly fall in the second of the time before, and
/// then only their milliseconds are new.
#[derive(Debug, Default)]
pub struct Rfc3339Writer {
    /// A second since the epoch, and its text up to the milliseconds.
    second: Option<(i64, [u8; 20])>,
}

impl Rfc3339Writer {
    /// Appends `t`'s text (ASCII, nothing a JSON string escapes) to `out`.
    pub fn write(&mut self, t: Ts, out: &mut Vec<u8>) {
        let second = t.0.div_euclid(Ts::MICROS_PER_SEC);
        match self.second {
            Some((s, head)) if s == second => {
                out.extend_from_slice(&head);
                out.extend_from_slice(&t.millis_text());
            }
            _ => match t.rfc3339_text() {
                Some(text) => {
                    out.extend_from_slice(&text);
                    self.second = text.first_chunk().map(|head| (second, *head));
                }
                None => out.extend_from_slice(t.to_rfc3339_by_chrono().as_bytes()),
            },
        }
    }
}

/// Reads RFC 3339 times one after another as [`rfc3339`] does, keeping the last date and clock
/// read: an envelope's times (docker, kubectl, the CRI) come in order, mostly within the second
/// of the time before, and differ in their fraction only. The date and clock are decoded when
/// their 19 bytes differ from the last ones ([`stamp`]), the fraction and offset always (a full
/// read of every line's time was ~450 instructions).
#[derive(Debug, Default, Clone)]
pub struct Rfc3339Reader {
    /// `2025-10-16T08:00:00`, and that second's instant before any offset.
    second: Option<([u8; 19], Ts)>,
}

impl Rfc3339Reader {
    /// [`rfc3339`]: the same instant and the same leftover input (or a failure where it fails).
    pub fn read<'a>(&mut self, i: &'a [u8]) -> IResult<&'a [u8], Ts> {
        match stamp(i, &mut self.second, date_and_clock) {
            Some(second) => fraction_and_offset(&i[19..], second),
            None => time_or_fail(i, None),
        }
    }
}

/// The time of the `N`-byte stamp `decode` reads at the start of `line`: the `last` one's
/// when the bytes are the same, else decoded (and kept in `last`) when it takes exactly `N`.
/// Always inlined: a plain release build kept it a call from the error-log prefix, about 25
/// instructions a line (a PGO build inlines it anyway).
#[inline(always)]
pub(crate) fn stamp<const N: usize>(
    line: &[u8],
    last: &mut Option<([u8; N], Ts)>,
    decode: fn(&[u8]) -> IResult<&[u8], Ts>,
) -> Option<Ts> {
    let head: &[u8; N] = line.get(..N)?.try_into().ok()?;
    // Compared where it lies: a copy read back at other offsets than it was written stalled
    // each line's loads on the copy's stores.
    if let Some((bytes, ts)) = last {
        if bytes == head {
            return Some(*ts);
        }
    }
    let (rest, ts) = decode(line).ok()?;
    if line.len() - rest.len() != N {
        return None;
    }
    *last = Some((*head, ts));
    Some(ts)
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant's algorithm, the
/// inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Exactly `n` ASCII digits as a number.
pub(crate) fn fixed_digits(n: usize) -> impl Fn(&[u8]) -> IResult<&[u8], u32> {
    move |i| {
        map_opt(take(n), |d: &[u8]| {
            d.iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        })
        .parse(i)
    }
}

/// Whether `i` can begin with an ISO date (`2025-…`): a cheap test before the parsers that
/// need one, which most lines starting with a digit (access lines: `10.0.0.1 - - […`) fail.
#[inline]
pub fn may_start_with_date(i: &[u8]) -> bool {
    i.first().is_some_and(u8::is_ascii_digit) && i.get(4) == Some(&b'-')
}

/// `2025-10-16` → (year, month, day).
pub(crate) fn iso_date(i: &[u8]) -> IResult<&[u8], (i64, u32, u32)> {
    let (i, (y, _, m, _, d)) = (
        fixed_digits(4),
        char('-'),
        fixed_digits(2),
        char('-'),
        fixed_digits(2),
    )
        .parse(i)?;
    Ok((i, (i64::from(y), m, d)))
}

/// `08:00:00` → (hour, minute, second).
pub(crate) fn clock(i: &[u8]) -> IResult<&[u8], (u32, u32, u32)> {
    let (i, (h, _, m, _, s)) = (
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
        char(':'),
        fixed_digits(2),
    )
        .parse(i)?;
    Ok((i, (h, m, s)))
}

/// A numeric offset as `+0000` (strftime `%z`) or `+00:00` / `Z` (RFC 3339), in seconds east.
/// Inlined, so that an envelope's time, nearly always in UTC, tests its `Z` in place.
#[inline]
pub(crate) fn utc_offset(i: &[u8]) -> IResult<&[u8], i64> {
    if let [b'Z' | b'z', rest @ ..] = i {
        return Ok((rest, 0));
    }
    numeric_offset(i)
}

/// `+0000`, `+00:00` (or `-`): [`utc_offset`] other than `Z`.
fn numeric_offset(i: &[u8]) -> IResult<&[u8], i64> {
    let (i, (sign, hh, _, mm)) = (
        one_of("+-"),
        fixed_digits(2),
        opt(char(':')),
        fixed_digits(2),
    )
        .parse(i)?;
    let secs = i64::from(hh * 3600 + mm * 60);
    Ok((i, if sign == '-' { -secs } else { secs }))
}

/// A fraction of a second of 1 to 9 digits after the dot, as microseconds (its first six
/// digits). An envelope's time has one on every line, so its first eight bytes are tested and
/// read as one word, not digit by digit.
fn fraction_micros(i: &[u8]) -> IResult<&[u8], u32> {
    // Short of eight bytes (a truncated line), padded with zeros, which are no digits.
    let word = match i.first_chunk::<8>() {
        Some(word) => *word,
        None => {
            let mut word = [0; 8];
            word[..i.len()].copy_from_slice(i);
            word
        }
    };
    let w = u64::from_le_bytes(word);
    let digits = match leading_digits(w) {
        8 => {
            8 + i[8..]
                .iter()
                .take(2)
                .take_while(|c| c.is_ascii_digit())
                .count()
        }
        n => n,
    };
    if !(1..=9).contains(&digits) {
        let kind = nom::error::ErrorKind::Digit;
        return Err(nom::Err::Error(nom::error::Error::new(i, kind)));
    }
    // The first six digits (or fewer, then zeros) as an eight-digit number: the microseconds
    // times 100.
    let kept = digits.min(6);
    let values = w.wrapping_sub(ONES * b'0' as u64) & (u64::MAX >> (64 - 8 * kept));
    Ok((&i[digits..], (eight_digits(values) / 100) as u32))
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// How many of the eight bytes of `w` (the first in its low byte) are ASCII digits before the
/// first that is not. A byte is a digit when its high half is 3, and still 3 with 6 added
/// (0x3a-0x3f become 0x40-0x45). Adding 6 carries into the next byte only from a byte of
/// 0xfa or more, which is no digit: the bytes up to the first that is not are judged right.
fn leading_digits(w: u64) -> usize {
    const HIGH: u64 = ONES * 0xf0;
    let threes = ONES * 0x30;
    let off = ((w & HIGH) ^ threes) | ((w.wrapping_add(ONES * 6) & HIGH) ^ threes);
    (off.trailing_zeros() / 8) as usize
}

/// The number the eight digit values in `v`'s bytes make, its first (most significant) digit
/// in the low byte: pairs of digits, then pairs of pairs, by multiplications.
fn eight_digits(v: u64) -> u64 {
    // Each even byte: the digit there times 10 plus the next one (at most 99, no carry).
    let pairs = v.wrapping_mul(10).wrapping_add(v >> 8);
    const EVERY_FOURTH: u64 = 0x0000_00ff_0000_00ff;
    let first = (pairs & EVERY_FOURTH).wrapping_mul(100 + (1_000_000 << 32));
    let second = ((pairs >> 16) & EVERY_FOURTH).wrapping_mul(1 + (10_000 << 32));
    first.wrapping_add(second) >> 32
}

/// RFC 3339 with an optional fraction of any length up to 9 digits, as written by docker,
/// containerd and kubelet: `2014-09-16T06:17:46.000000000Z`, `2016-10-06T00:17:09.669794202+02:00`.
pub fn rfc3339(i: &[u8]) -> IResult<&[u8], Ts> {
    let (i, second) = date_and_clock(i)?;
    fraction_and_offset(i, second)
}

/// `2025-10-16T08:00:00` (19 bytes) → that second as if in UTC.
fn date_and_clock(i: &[u8]) -> IResult<&[u8], Ts> {
    let (i, (date, _, time)) = (iso_date, one_of("Tt"), clock).parse(i)?;
    time_or_fail(i, Ts::from_civil(date, time, 0, 0))
}

/// `.669794202+02:00` after the clock whose instant (as if in UTC) is `second` → the time. An
/// optional fraction, then the offset, without nom's combinators around them (an envelope's
/// time has both on every line): a fraction that is not one is left, for the offset to fail on.
fn fraction_and_offset(i: &[u8], second: Ts) -> IResult<&[u8], Ts> {
    let (i, micros) = match i.strip_prefix(b".").map(fraction_micros) {
        Some(Ok(read)) => read,
        _ => (i, 0),
    };
    let (i, off) = utc_offset(i)?;
    Ok((
        i,
        Ts(second.0 + i64::from(micros) - off * Ts::MICROS_PER_SEC),
    ))
}

pub(crate) fn time_or_fail(rest: &[u8], ts: Option<Ts>) -> IResult<&[u8], Ts> {
    match ts {
        Some(ts) => Ok((rest, ts)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            rest,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`fraction_micros`] as a loop over the digits, for the test below.
    fn fraction_by_loop(i: &[u8]) -> Option<(&[u8], u32)> {
        let digits = i.iter().take(10).take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let micros = i[..digits.min(6)]
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(6)
            .fold(0, |n, c| n * 10 + u32::from(c - b'0'));
        Some((&i[digits..], micros))
    }

    /// Every count of digits from none to eleven, each followed by bytes either side of the
    /// digits' range (a carry from 0xfa-0xff, `:` and `/` beside the digits, a NUL) or by
    /// nothing: the word read as the loop reads it, leftover included.
    #[test]
    fn fraction_micros_reads_as_a_loop_would() {
        let digit_runs: [&[u8]; 3] = [b"12345678901", b"98765432109", b"00000100000"];
        let ends: [&[u8]; 11] = [
            b"", b"Z", b"z x", b":", b"/", b"@", b"\x00", b"\xfa9", b"\xff", b"+02:00", b"9",
        ];
        for run in digit_runs {
            for n in 0..=run.len() {
                for end in ends {
                    let input = [&run[..n], end].concat();
                    assert_eq!(
                        fraction_micros(&input).ok(),
                        fraction_by_loop(&input),
                        "{}",
                        input.escape_ascii()
                    );
                }
            }
        }
    }

    #[test]
    fn fraction_micros_takes_one_to_nine_digits() {
        // The input, and its leftover and microseconds (`None`: no fraction there).
        type Case = (&'static [u8], Option<(&'static [u8], u32)>);
        let cases: [Case; 7] = [
            (b"5Z", Some((b"Z", 500_000))),
            (b"123456Z", Some((b"Z", 123_456))),
            (b"123456789+02:00", Some((b"+02:00", 123_456))),
            (b"000001000Z x", Some((b"Z x", 1))),
            (b"1234567891Z", None),
            (b"Z", None),
            (b"", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                fraction_micros(input).ok(),
                want,
                "{}",
                input.escape_ascii()
            );
        }
    }

    #[test]
    fn rfc3339_reader_reads_as_rfc3339() {
        // In order, so that most share the cached second and differ after it; then the same
        // second with other tails, other seconds, and lines the grammar refuses.
        let times: [&[u8]; 28] = [
            b"2025-10-16T08:00:00.000001000Z stdout F x",
            b"2025-10-16T08:00:00.123456789Z [pod/web] x",
            b"2025-10-16T08:00:00.5Z x",
            b"2025-10-16T08:00:00Z x",
            b"2025-10-16T08:00:00z",
            b"2025-10-16T08:00:00.1234567891Z x",
            b"2025-10-16T08:00:00.Z x",
            b"2025-10-16T08:00:00.999+02:00 x",
            b"2025-10-16T08:00:00-0130 x",
            b"2025-10-16T08:00:00.12",
            b"2025-10-16T08:00:00",
            b"2025-10-16t08:00:01.000000001Z x",
            b"2025-10-16T08:00:01.000000001Z x",
            b"2016-12-31T23:59:60.5Z x",
            b"2025-02-31T08:00:00Z x",
            b"2025-13-01T08:00:00Z x",
            b"2025-10-16T24:00:00Z x",
            b"2025-10-16 08:00:00Z x",
            b"1969-12-31T23:59:59.999999Z x",
            b"0000-01-01T00:00:00Z x",
            b"2025-10-16T08:00:0",
            b"2025-10-16T08:00:59.5Z x",
            b"2025-10-16T08:00:60Z x",
            b"2025-10-16T08:00:61Z x",
            b"2025-10-16T08:00:5xZ x",
            b"2025-10-16T08:00:07Z x",
            b"2025-10-16T08:01:07Z x",
            b"",
        ];
        let mut reader = Rfc3339Reader::default();
        for _ in 0..2 {
            for t in times {
                assert_eq!(reader.read(t).ok(), rfc3339(t).ok(), "{}", t.escape_ascii());
            }
        }
        let (rest, t) = reader
            .read(b"2025-10-16T08:00:00.000002Z stdout F x")
            .unwrap();
        assert_eq!(
            (rest, t.to_rfc3339()),
            (&b" stdout F x"[..], "2025-10-16T08:00:00.000Z".into())
        );
    }

    #[test]
    fn rfc3339_by_hand_is_chrono_s() {
        // Day and year edges, leap days, the epoch, before it, and a spread of instants.
        let mut instants = vec![
            0,
            -1,
            1,
            951_782_400_000_000,
            951_868_799_999_999,
            1_760_601_600_123_456,
            -62_167_219_200_000_000,
            -62_167_219_200_000_001,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            i64::MIN,
            i64::MAX,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.push((x % 600_000_000_000_000_000) as i64 - 300_000_000_000_000_000);
        }
        for t in instants {
            assert_eq!(Ts(t).to_rfc3339(), Ts(t).to_rfc3339_by_chrono(), "{t}");
        }
    }

    /// Times written from the second kept are the times written afresh: within a second,
    /// across seconds, and around the years chrono writes (not kept).
    #[test]
    fn times_written_from_the_second_kept() {
        let mut writer = Rfc3339Writer::default();
        let bases = [
            1_760_601_600_123_456,
            -1,
            -62_167_219_200_000_001,
            253_402_300_800_000_000,
        ];
        for base in bases {
            for t in [
                base,
                base + 1_000,
                base + 999_999,
                base - 1,
                base + 1_000_000,
            ] {
                for _ in 0..2 {
                    let mut out = b"before ".to_vec();
                    writer.write(Ts(t), &mut out);
                    assert_eq!(out, format!("before {}", Ts(t).to_rfc3339()).into_bytes());
                }
            }
        }
    }

    #[test]
    fn days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(2025, 10, 16), 20377);
    }

    #[test]
    fn only_date_like_starts_go_to_the_date_parsers() {
        assert!(may_start_with_date(b"2015-11-12 17:23:50 [17027] [INFO] x"));
        assert!(may_start_with_date(b"2014-09-16T06:17:46.000000000Z x"));
        assert!(!may_start_with_date(
            b"10.37.48.94 - - [16/Oct/2025:08:00:00 +0000]"
        ));
        assert!(!may_start_with_date(b"1234"));
    }

    #[test]
    fn rfc3339_variants() {
        let (rest, a) = rfc3339(b"2014-09-16T06:17:46.000000000Z rest").unwrap();
        assert_eq!(rest, b" rest");
        let (_, b) = rfc3339(b"2014-09-16T08:17:46.5+02:00").unwrap();
        assert_eq!(b.0 - a.0, 500_000);
        let (_, c) = rfc3339(b"2014-09-16T06:17:46Z").unwrap();
        assert_eq!(a, c);
        assert!(rfc3339(b"2014-09-16T06:17:46.1234567890Z").is_err());
    }
}
