//! `--format ndjson`'s notice lines, written by hand: one is written per request, and serde
//! wrote each in some forty calls through the writer, a quarter of a run's instructions (the
//! `wire::Notice` derive stays the schema: the tests check that both write the same bytes).
//!
//! A line is appended to a buffer the caller keeps, so writing one allocates nothing (but a
//! path or Host that is not UTF-8, made text first).

use std::borrow::Cow;
use std::sync::Arc;

use super::wire;
#[cfg(test)]
use crate::correlate;
use crate::correlate::Notice;
use crate::input::{json_escaped, json_plain};
use crate::time::{Rfc3339Writer, Ts};

/// Appends `n` as one JSON object and `\n` to `out`, byte for byte as serde_json writes
/// [`wire::Notice`].
pub fn notice_line(n: &Notice, out: &mut Vec<u8>) {
    line(n, out, &mut Kept::default());
}

/// What one notice line has in common with the one before, kept to be copied, not written
/// again: the input named (every notice names its input, most the one the notice before
/// did) and the second of its time (notices come in batches that settled together).
#[derive(Default)]
pub struct Kept {
    /// The input, and its name as a JSON string.
    file: Option<(Arc<str>, Vec<u8>)>,
    /// The text of the last second written.
    times: Rfc3339Writer,
}

/// [`notice_line`], with what the last line had in common with this one `kept`.
pub fn line(n: &Notice, out: &mut Vec<u8>, kept: &mut Kept) {
    match n {
        Notice::Request {
            time,
            pod,
            method,
            logged: path_and_host,
            pid,
            class,
            outcome,
            cause,
            status,
            latency_ms,
            resolution,
            file,
            line,
        } => {
            out.extend_from_slice(b"{\"type\":\"request\",\"time\":");
            opt_time(*time, out, kept);
            out.extend_from_slice(b",\"pod\":");
            opt_str(pod.as_deref(), out);
            out.extend_from_slice(b",\"method\":");
            match method {
                // A method the correlator knows by name: nothing in it is escaped.
                Cow::Borrowed(m) => quoted(m, out),
                Cow::Owned(m) => string(m, out),
            }
            out.extend_from_slice(b",\"path\":");
            logged(path_and_host.path(), out);
            out.extend_from_slice(b",\"host\":");
            match path_and_host.host() {
                Some(h) => logged(h, out),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"pid\":");
            opt_num(pid.map(u64::from), out);
            out.extend_from_slice(b",\"class\":");
            class_field((*class).into(), out);
            out.extend_from_slice(b",\"outcome\":");
            quoted(outcome, out);
            out.extend_from_slice(b",\"cause\":");
            match cause {
                Some(c) => quoted(cause_name((*c).into()), out),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"status\":");
            opt_num(status.map(u64::from), out);
            out.extend_from_slice(b",\"latency_ms\":");
            match latency_ms {
                Some(ms) => millis(*ms, out),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"resolution\":");
            match resolution {
                Some(r) => quoted(r, out),
                None => out.extend_from_slice(b"null"),
            }
            place(file, *line, out, kept);
            out.extend_from_slice(b"}\n");
        }
        Notice::Alert {
            time,
            pod,
            alert,
            message,
            file,
            line,
            text,
        } => {
            out.extend_from_slice(b"{\"type\":\"alert\",\"time\":");
            opt_time(*time, out, kept);
            out.extend_from_slice(b",\"pod\":");
            opt_str(pod.as_deref(), out);
            out.extend_from_slice(b",\"alert\":\"");
            out.extend_from_slice(alert_name((*alert).into()).as_bytes());
            out.extend_from_slice(b"\",\"message\":");
            string(message, out);
            place(file, *line, out, kept);
            out.extend_from_slice(b",\"text\":");
            string(text, out);
            out.extend_from_slice(b"}\n");
        }
    }
}

/// The `file` and `line` fields.
fn place(file: &Arc<str>, line: u64, out: &mut Vec<u8>, kept: &mut Kept) {
    out.extend_from_slice(b",\"file\":");
    match &mut kept.file {
        Some((name, json)) if Arc::ptr_eq(name, file) => out.extend_from_slice(json),
        _ => {
            let mut json = Vec::new();
            string(file, &mut json);
            out.extend_from_slice(&json);
            kept.file = Some((file.clone(), json));
        }
    }
    out.extend_from_slice(b",\"line\":");
    number(line, out);
}

/// A latency in milliseconds as serde_json writes an `f64` (shortest form; not finite: null).
/// Whole numbers, all that whole-second stamps give, are their digits and `.0` without it.
fn millis(ms: f64, out: &mut Vec<u8>) {
    if ms.fract() == 0.0 && ms.abs() < 1e15 {
        if ms.is_sign_negative() {
            out.push(b'-');
        }
        number(ms.abs() as u64, out);
        out.extend_from_slice(b".0");
    } else {
        drop(serde_json::to_writer(&mut *out, &ms));
    }
}

fn opt_num(n: Option<u64>, out: &mut Vec<u8>) {
    match n {
        Some(n) => number(n, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// `n` in decimal, two digits at a time.
fn number(mut n: u64, out: &mut Vec<u8>) {
    const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let k = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[k..k + 2]);
    }
    if n >= 10 {
        let k = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[k..k + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

/// A time as its RFC 3339 string (nothing in it is escaped), or `null`.
fn opt_time(t: Option<Ts>, out: &mut Vec<u8>, kept: &mut Kept) {
    match t {
        Some(t) => {
            out.push(b'"');
            kept.times.write(t, out);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_str(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => string(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A name (or text) that needs no escaping, in quotes.
fn quoted(name: impl AsRef<[u8]>, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(name.as_ref());
    out.push(b'"');
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if json_plain::<false>(bytes) {
        out.extend_from_slice(bytes);
    } else {
        escape(bytes, out);
    }
    out.push(b'"');
}

/// Bytes of a log line (invalid UTF-8 replaced, as `String::from_utf8_lossy`) as a JSON
/// string: ASCII with nothing to escape, nearly all of them, is copied as it is.
fn logged(bytes: &[u8], out: &mut Vec<u8>) {
    if json_plain::<true>(bytes) {
        quoted(bytes, out);
    } else {
        string(&String::from_utf8_lossy(bytes), out);
    }
}

#[cold]
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (k, &b) in bytes.iter().enumerate() {
        if !json_escaped(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..k]);
        start = k + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A class as its JSON string, each name a literal of its own: the compiler copies a literal
/// with a few moves, where a name of any length taken from a function was a call to `memcpy`.
fn class_field(c: wire::Class, out: &mut Vec<u8>) {
    match c {
        wire::Class::Probe => out.extend_from_slice(b"\"probe\""),
        wire::Class::Health => out.extend_from_slice(b"\"health\""),
        wire::Class::External => out.extend_from_slice(b"\"external\""),
    }
}

fn cause_name(c: wire::Cause) -> &'static str {
    match c {
        wire::Cause::WorkerTimeout => "worker_timeout",
        wire::Cause::WorkerKilled => "worker_killed",
        wire::Cause::WorkerExited => "worker_exited",
        wire::Cause::NeverAnswered => "never_answered",
        wire::Cause::OpenAtEnd => "open_at_end",
        wire::Cause::Shutdown => "shutdown",
    }
}

fn alert_name(k: wire::AlertKind) -> &'static str {
    match k {
        wire::AlertKind::RequestOpenTooLong => "request_open_too_long",
        wire::AlertKind::WorkerTimeout => "worker_timeout",
        wire::AlertKind::WorkerKilled => "worker_killed",
        wire::AlertKind::BootFailure => "boot_failure",
        wire::AlertKind::NewDisallowedHost => "new_disallowed_host",
    }
}

/// The correlator's kinds, for the tests: every one of them.
#[cfg(test)]
const CAUSES: [correlate::Cause; 6] = [
    correlate::Cause::WorkerTimeout,
    correlate::Cause::WorkerKilled,
    correlate::Cause::WorkerExited,
    correlate::Cause::NeverAnswered,
    correlate::Cause::OpenAtEnd,
    correlate::Cause::Shutdown,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::PathAndHost;

    fn by_serde(n: &Notice) -> Vec<u8> {
        let mut v = serde_json::to_vec(&wire::Notice::from(n)).unwrap();
        v.push(b'\n');
        v
    }

    fn by_hand(n: &Notice) -> Vec<u8> {
        let mut v = b"left as it was".to_vec();
        let before = v.len();
        notice_line(n, &mut v);
        // With the input's name kept: from a notice of another input, then of the same one.
        let (mut kept, mut other, mut same) = (Kept::default(), Vec::new(), Vec::new());
        line(&request("other", None, None), &mut other, &mut kept);
        line(n, &mut other, &mut kept);
        line(n, &mut same, &mut kept);
        assert!(other.ends_with(&same) && same == v[before..], "{n:?}");
        v.split_off(before)
    }

    #[test]
    fn numbers_in_decimal() {
        for n in [
            0,
            7,
            9,
            10,
            42,
            99,
            100,
            101,
            999,
            1000,
            65535,
            1234567,
            u64::MAX,
        ] {
            let mut v = Vec::new();
            number(n, &mut v);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }

    /// Whole milliseconds take the short way; every float comes out as serde_json writes it.
    #[test]
    fn milliseconds_as_serde_writes_them() {
        let mut floats = vec![
            0.0,
            -0.0,
            0.5,
            -2.25,
            1e15,
            1e15 - 1.0,
            -1e15 + 1.0,
            1e16,
            1e21,
        ];
        floats.extend((0..=15).map(|e| 10f64.powi(e)));
        floats.extend((0..200_000).step_by(997).map(|ms| ms as f64));
        floats.extend((0..2_000).map(|k| -(k as f64) * 1000.0));
        floats.extend([
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ]);
        for ms in floats {
            let mut v = Vec::new();
            millis(ms, &mut v);
            let want = serde_json::to_string(&ms).unwrap();
            assert_eq!(String::from_utf8_lossy(&v), want, "{ms:?}");
        }
    }

    /// Times of every shape: this century, before 1970, after 9999 (chrono's own form).
    const TIMES: [i64; 4] = [
        1_760_601_600_123_456,
        -1,
        -62_167_219_200_000_001,
        253_402_300_800_000_000,
    ];

    fn request(text: &str, cause: Option<correlate::Cause>, ms: Option<f64>) -> Notice {
        Notice::Request {
            time: Some(Ts(TIMES[text.len() % TIMES.len()])),
            pod: (!text.is_empty()).then(|| Arc::from(text)),
            method: "GET".into(),
            logged: PathAndHost::new(format!("/p/{text}").as_bytes(), Some(text.as_bytes())),
            pid: Some(36),
            class: correlate::Class::External,
            outcome: "answered",
            cause,
            status: Some(200),
            latency_ms: ms,
            resolution: Some("sub-second"),
            file: Arc::from(format!("{text}.log")),
            line: 1234567,
        }
    }

    /// Every field, every kind, strings that need each escape, floats of every shape: the
    /// same bytes as the serde derive writes.
    #[test]
    fn the_same_bytes_as_serde() {
        let texts = [
            "",
            "plain",
            "q\"uote\\back",
            "ctl \u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f} end",
            "héllo ☃ and a longer text past sixteen bytes \"",
        ];
        let floats = [
            None,
            Some(0.0),
            Some(1.5),
            Some(1e21),
            Some(0.001),
            Some(f64::NAN),
            Some(123456.789),
        ];
        let mut notices = Vec::new();
        for (k, text) in texts.iter().enumerate() {
            for ms in floats {
                notices.push(request(text, None, ms));
            }
            for cause in CAUSES {
                notices.push(request(text, Some(cause), Some(k as f64)));
            }
            for alert in [
                correlate::AlertKind::RequestOpenTooLong,
                correlate::AlertKind::WorkerTimeout,
                correlate::AlertKind::WorkerKilled,
                correlate::AlertKind::BootFailure,
                correlate::AlertKind::NewDisallowedHost,
            ] {
                notices.push(Notice::Alert {
                    time: (k % 2 == 0).then(|| Ts(TIMES[k % TIMES.len()])),
                    pod: (k % 2 == 1).then(|| Arc::from(*text)),
                    alert,
                    message: text.to_string(),
                    file: Arc::from(*text),
                    line: k as u64,
                    text: text.to_string(),
                });
            }
        }
        // Every outcome, resolution and a few methods.
        for (outcome, resolution, method) in [
            ("orphaned", Some("whole seconds"), "POST"),
            ("in_flight", None, "PUT"),
            ("answered", Some("sub-second"), "GET"),
        ] {
            let mut n = request("plain", None, Some(1.0));
            if let Notice::Request {
                outcome: o,
                resolution: r,
                method: m,
                ..
            } = &mut n
            {
                (*o, *r, *m) = (outcome, resolution, method.into());
            }
            notices.push(n);
        }
        let mut bare = request("x", None, None);
        if let Notice::Request {
            time,
            logged,
            pid,
            status,
            resolution,
            class,
            ..
        } = &mut bare
        {
            (*time, *pid, *status, *resolution) = (None, None, None, None);
            *logged = PathAndHost::new(logged.path(), None);
            *class = correlate::Class::Probe;
        }
        notices.push(bare.clone());
        if let Notice::Request { method, logged, .. } = &mut bare {
            // A method no list knows, with a byte to escape; a path and a Host not UTF-8.
            *method = "BREW\"".to_string().into();
            *logged = PathAndHost::new(
                b"/caf\xe9/\xff\xfe\"/long enough for a word",
                Some(b"h\xc3"),
            );
        }
        notices.push(bare.clone());
        if let Notice::Request { class, .. } = &mut bare {
            *class = correlate::Class::Health;
        }
        notices.push(bare);
        for n in &notices {
            assert_eq!(
                String::from_utf8_lossy(&by_hand(n)),
                String::from_utf8_lossy(&by_serde(n)),
                "{n:?}"
            );
        }
    }
}
