//! Container and cluster envelopes around a log line, detected per line and stripped.
//!
//! `docker logs --timestamps`, `kubectl logs --prefix --timestamps`, Kubernetes CRI files,
//! docker json-file lines, docker compose prefixes and the ANSI colours compose adds on a
//! terminal, journald's and rsyslog's prefixes (a systemd service's lines in `/var/log/syslog`)
//! all wrap the same gunicorn/Django line. The wrapper's time, stream and pod are kept:
//! the time is more trustworthy than the text's (see reference §1, clocks), and each pod is a
//! different set of processes to correlate. CRI `P` partial records and json-file lines without
//! a trailing newline are joined with what follows, as the runtime split them.

use std::borrow::Cow;

use super::{find_once, find_short, json_plain};
use crate::time::{may_start_with_date, Rfc3339Reader, Ts};

/// Longest joined partial line kept; the rest of a runaway partial is dropped.
const MAX_PARTIAL: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A line without its envelope.
#[derive(Debug, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    pub time: Option<Ts>,
    pub stream: Option<Stream>,
    /// `pod/container` from kubectl's prefix, or the compose service name.
    pub source: Option<&'a [u8]>,
    pub payload: Cow<'a, [u8]>,
}

/// The result of stripping one physical line.
#[derive(Debug, PartialEq, Eq)]
pub enum Stripped<'a> {
    Line(Unwrapped<'a>),
    /// A partial record, kept until the rest of the line arrives.
    Partial,
}

/// Strips envelopes; keeps the partial records of each stream until they are complete.
#[derive(Debug, Default, Clone)]
pub struct Unwrapper {
    partial: [Vec<u8>; 2],
    /// The envelopes' times, read with the last second's text kept (a cache, not state: a
    /// fresh one reads the same times).
    times: Rfc3339Reader,
}

#[derive(serde::Deserialize)]
struct JsonFileLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(default, borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
}

/// docker's json-file line in the one shape dockerd writes it (Go's encoding/json: no space,
/// these fields in this order), `{"log":"…\n","stream":"stdout","time":"2026-…Z"}`, read
/// without serde: exactly as serde reads it (the log decoded, borrowed when it has no escape),
/// or `None` for any other shape and for what this does not decode (a surrogate's `\u`
/// escape, invalid UTF-8, a control character), which serde reads. Every json-file line is
/// such a line; serde took ~2,700 instructions a line.
fn json_file_fast(line: &[u8]) -> Option<JsonFileLine<'_>> {
    // Checked once: the quotes and backslashes cut it at character boundaries.
    let text = std::str::from_utf8(line).ok()?;
    let (log, rest) = json_string(text.strip_prefix("{\"log\":\"")?)?;
    let rest = rest.strip_prefix(",\"stream\":\"")?;
    let (stream, rest) = match rest.get(..6)? {
        s @ ("stdout" | "stderr") => (s, &rest[6..]),
        _ => return None,
    };
    let time = rest.strip_prefix("\",\"time\":\"")?.strip_suffix("\"}")?;
    // The time as written: no quote, escape or control character in it.
    if !json_plain::<false>(time.as_bytes()) {
        return None;
    }
    Some(JsonFileLine {
        log,
        stream: Some(Cow::Borrowed(stream)),
        time: Some(Cow::Borrowed(time)),
    })
}

/// The JSON string that `s` starts (after its opening quote), decoded as serde_json decodes it
/// (borrowed when it has no escape), and the rest after its closing quote; `None` for a string
/// that does not end, a control character, an unknown escape, and a `\u` escape of a surrogate
/// (a pair, or a lone one serde refuses), which are left to serde.
fn json_string(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let mut out: Option<String> = None;
    let mut start = 0;
    loop {
        let at = start + memchr::memchr2(b'"', b'\\', &s.as_bytes()[start..])?;
        let piece = &s[start..at];
        // No quote or backslash in it: a control character is what would be escaped.
        if !json_plain::<false>(piece.as_bytes()) {
            return None;
        }
        let after = &s[at + 1..];
        if s.as_bytes()[at] == b'"' {
            let text = match out {
                None => Cow::Borrowed(piece),
                Some(mut o) => {
                    o.push_str(piece);
                    Cow::Owned(o)
                }
            };
            return Some((text, after));
        }
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        o.push_str(piece);
        let (c, len) = escape(after)?;
        o.push(c);
        start = at + 1 + len;
    }
}

/// The escape after a backslash → the character and the bytes it took.
fn escape(s: &str) -> Option<(char, usize)> {
    Some(match *s.as_bytes().first()? {
        b'"' => ('"', 1),
        b'\\' => ('\\', 1),
        b'/' => ('/', 1),
        b'b' => ('\u{8}', 1),
        b'f' => ('\u{c}', 1),
        b'n' => ('\n', 1),
        b'r' => ('\r', 1),
        b't' => ('\t', 1),
        b'u' => {
            let hex = s.get(1..5)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 5)
        }
        _ => return None,
    })
}

/// `[pod/web-7d9f/web] ` → `web-7d9f/web`: the name ends at the first `] ` and holds no white
/// space, so the first white space after `[pod/` (ASCII's, as `u8::is_ascii_whitespace`) is
/// that `] `'s space, or there is no prefix.
fn kubectl_prefix(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = line.strip_prefix(b"[pod/")?;
    let space = find_short(rest, [b' ', b'\t', b'\n', 0x0c, b'\r'])?;
    // `]` and that space, after a name of a byte or more.
    let end = space.checked_sub(1)?;
    let prefix = end > 0 && rest[end] == b']' && rest[space] == b' ';
    prefix.then(|| (&rest[..end], &rest[space + 1..]))
}

/// `web-1    | ` (compose v2), `grlc_1  | ` (v1), `srft-test       | `.
fn compose_prefix(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let name_len = line
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')))?;
    if name_len == 0 || !line[0].is_ascii_alphanumeric() {
        return None;
    }
    let after = &line[name_len..];
    let spaces = after.iter().take_while(|&&c| c == b' ').count();
    if spaces == 0 {
        return None;
    }
    let rest = after[spaces..].strip_prefix(b"|")?;
    Some((&line[..name_len], rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// Whether [`compose_prefix`] may find a name in `line`: only if the byte after its first
/// space is another space or compose's `|` (a cheap test before the full one).
fn may_be_compose(line: &[u8]) -> bool {
    match memchr::memchr(b' ', line) {
        Some(p) => matches!(line.get(p + 1), Some(b' ' | b'|')) && compose_prefix(line).is_some(),
        None => false,
    }
}

/// journald / syslog: `Jul 05 09:13:44 webapps wsgi.sh[3129704]: ` (no year: the time is left
/// to the line itself).
fn journald_prefix(line: &[u8]) -> Option<&[u8]> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if line.len() < 20 || line[3] != b' ' || !MONTHS.contains(&&line[..3]) {
        return None;
    }
    let day = &line[4..6];
    let clock = &line[6..16];
    let day_ok = day.iter().all(|c| c.is_ascii_digit() || *c == b' ') && day[1].is_ascii_digit();
    let clock_ok = clock[0] == b' '
        && clock[3] == b':'
        && clock[6] == b':'
        && clock[9] == b' '
        && [1, 2, 4, 5, 7, 8]
            .iter()
            .all(|&k| clock[k].is_ascii_digit());
    if !(day_ok && clock_ok) {
        return None;
    }
    host_and_tag(&line[16..]).map(|(_, _, rest)| rest)
}

/// A syslog line's host and program tag after its stamp, `web01 wsgi.sh[3129704]: `: the host
/// ends at the first space, the tag at the first `: ` after it and holds no space. The host,
/// the tag and the line after them.
fn host_and_tag(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let host_end = memchr::memchr(b' ', line)?;
    let after_host = &line[host_end + 1..];
    let colon = find_once(after_host, b": ")?;
    let tag = &after_host[..colon];
    if tag.is_empty() || tag.contains(&b' ') {
        return None;
    }
    Some((&line[..host_end], tag, &after_host[colon + 2..]))
}

/// What follows the stamp in rsyslog's default file format (`RSYSLOG_FileFormat`, Debian 12's,
/// as in `/var/log/syslog`: `2026-12-04T07:22:22.478911+00:00 web01 gunicorn[812]: `): the
/// host, then the program's tag with its pid; the line after them. Asked only after a stamp
/// with an offset, which no container runtime writes, and only with the pid in the tag, so that
/// an app's own line behind docker's stamp is never taken for it.
fn syslog_host_tag(line: &[u8]) -> Option<&[u8]> {
    let (host, tag, rest) = host_and_tag(line)?;
    let is_name = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_');
    let tag = tag.strip_suffix(b"]")?;
    let open = memchr::memchr(b'[', tag)?;
    let (name, pid) = (&tag[..open], &tag[open + 1..]);
    let named = !host.is_empty() && host.iter().all(is_name) && !name.is_empty();
    let numbered = !pid.is_empty() && pid.iter().all(u8::is_ascii_digit);
    (named && numbered).then_some(rest)
}

/// An RFC 3339 time followed by one space, as docker, containerd and kubelet write it.
fn time_prefix<'a>(line: &'a [u8], times: &mut Rfc3339Reader) -> Option<(Ts, &'a [u8])> {
    if !may_start_with_date(line) {
        return None;
    }
    let (rest, ts) = times.read(line).ok()?;
    Some((ts, rest.strip_prefix(b" ")?))
}

/// CRI fields after the time: `stdout F ` / `stderr P `.
fn cri_fields(line: &[u8]) -> Option<(Stream, bool, &[u8])> {
    let (stream, rest) = if let Some(r) = line.strip_prefix(b"stdout ") {
        (Stream::Stdout, r)
    } else {
        (Stream::Stderr, line.strip_prefix(b"stderr ")?)
    };
    let (partial, rest) = match rest {
        [b'F', b' ', rest @ ..] => (false, rest),
        [b'P', b' ', rest @ ..] => (true, rest),
        [b'F'] => (false, &rest[1..]),
        [b'P'] => (true, &rest[1..]),
        _ => return None,
    };
    Some((stream, partial, rest))
}

/// Removes ANSI SGR sequences (`ESC [ … m`), the colours compose adds on a terminal: `line`
/// without them is appended to `out`.
fn strip_sgr(line: &[u8], out: &mut Vec<u8>) {
    let mut k = 0;
    while k < line.len() {
        if line[k] == 0x1b && line.get(k + 1) == Some(&b'[') {
            let params = line[k + 2..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b';')
                .count();
            if line.get(k + 2 + params) == Some(&b'm') {
                k += 3 + params;
                continue;
            }
        }
        out.push(line[k]);
        k += 1;
    }
}

/// Whether `raw` starts like no envelope: gunicorn's own lines (`[2025-…`) start like none
/// but kubectl's `[pod/…`, nor do access lines (`10.0.0.1 - - […`) but for compose's `name | `.
#[inline]
fn is_bare(raw: &[u8]) -> bool {
    match raw.first() {
        Some(b'[') => !raw.starts_with(b"[pod/"),
        Some(c) if c.is_ascii_digit() => !may_start_with_date(raw) && !may_be_compose(raw),
        _ => false,
    }
}

impl Unwrapper {
    /// No partial record is waiting: the next line strips as it would for a fresh stripper.
    pub fn is_idle(&self) -> bool {
        self.partial.iter().all(Vec::is_empty)
    }

    /// Strips every envelope from `raw`; `scratch` holds the payload when it has to be rebuilt.
    #[inline]
    pub fn strip<'a>(&mut self, raw: &'a [u8], scratch: &'a mut Vec<u8>) -> Stripped<'a> {
        self.strip_enveloped(raw, scratch)
            .unwrap_or(Stripped::Line(Unwrapped {
                time: None,
                stream: None,
                source: None,
                payload: Cow::Borrowed(raw),
            }))
    }

    /// [`Unwrapper::strip`], but `None` for a bare line, which is its own payload (no time, no
    /// source): nearly every line of a plain log, whose answer a caller that keeps its lines'
    /// spans need not build and take apart. Inlined for the bare line; the envelopes are
    /// looked for out of line.
    #[inline]
    pub fn strip_enveloped<'a>(
        &mut self,
        raw: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Option<Stripped<'a>> {
        (!is_bare(raw)).then(|| self.strip_envelopes(raw, scratch))
    }

    /// [`Unwrapper::strip`] for a line that may have an envelope (`scratch` emptied first:
    /// what the last line left there is no part of this one).
    #[inline(never)]
    fn strip_envelopes<'a>(&mut self, raw: &'a [u8], scratch: &'a mut Vec<u8>) -> Stripped<'a> {
        scratch.clear();
        let mut scratch = Some(scratch);
        let mut line: &'a [u8] = raw;
        if line.starts_with(b"\x1b[") {
            let buf = scratch.take().expect("scratch is unused so far");
            strip_sgr(raw, buf);
            line = buf;
        }
        let mut time = None;
        let mut source = None;
        // Each wrapper at most once, in any order kubectl, docker and compose stack them.
        for _ in 0..4 {
            if let Some((name, rest)) = kubectl_prefix(line) {
                source = Some(name);
                line = rest;
                continue;
            }
            if time.is_none() {
                if let Some((ts, rest)) = time_prefix(line, &mut self.times) {
                    time = Some(ts);
                    // Docker's, kubectl's and CRI's stamps are UTC with a `Z`; syslog's carry
                    // an offset.
                    let zoned = !line[..line.len() - rest.len()].ends_with(b"Z ");
                    line = rest;
                    if let Some((s, partial, rest)) = cri_fields(line) {
                        return self.join(s, partial, time, source, rest, scratch);
                    }
                    if let Some(rest) = zoned.then(|| syslog_host_tag(line)).flatten() {
                        line = rest;
                    }
                    continue;
                }
            }
            if line.starts_with(b"{\"log\":") {
                let read = json_file_fast(line).or_else(|| super::json_line(line).ok());
                if let Some(j) = read {
                    let s = match j.stream.as_deref() {
                        Some("stdout") => Stream::Stdout,
                        _ => Stream::Stderr,
                    };
                    let t = j
                        .time
                        .as_deref()
                        .and_then(|t| self.times.read(t.as_bytes()).ok());
                    let log = j.log.as_bytes();
                    let partial = !log.ends_with(b"\n");
                    let log = log.strip_suffix(b"\n").unwrap_or(log);
                    let log = log.strip_suffix(b"\r").unwrap_or(log);
                    let time = t.map(|(_, ts)| ts).or(time);
                    let Some(buf) = scratch.take() else { break };
                    // The joined text must outlive `j`: copy it into the scratch buffer.
                    let start = buf.len();
                    buf.extend_from_slice(log);
                    let owned: &'a Vec<u8> = buf;
                    let text: &'a [u8] = &owned[start..];
                    return self.join(s, partial, time, source, text, None);
                }
            }
            if let Some(rest) = journald_prefix(line) {
                line = rest;
                continue;
            }
            if source.is_none() && time.is_none() {
                if let Some((name, rest)) = compose_prefix(line) {
                    source = Some(name);
                    line = rest;
                    continue;
                }
            }
            break;
        }
        Stripped::Line(Unwrapped {
            time,
            stream: None,
            source,
            payload: Cow::Borrowed(line),
        })
    }

    /// Completes a record of a runtime that splits long lines (`P` then `F`).
    fn join<'a>(
        &mut self,
        stream: Stream,
        partial: bool,
        time: Option<Ts>,
        source: Option<&'a [u8]>,
        text: &'a [u8],
        scratch: Option<&'a mut Vec<u8>>,
    ) -> Stripped<'a> {
        let pending = &mut self.partial[stream as usize];
        if partial {
            let room = MAX_PARTIAL.saturating_sub(pending.len());
            pending.extend_from_slice(&text[..text.len().min(room)]);
            return Stripped::Partial;
        }
        let payload = if pending.is_empty() {
            Cow::Borrowed(text)
        } else {
            let mut joined = std::mem::take(pending);
            let room = MAX_PARTIAL.saturating_sub(joined.len());
            joined.extend_from_slice(&text[..text.len().min(room)]);
            match scratch {
                Some(buf) => {
                    *buf = joined;
                    let buf: &'a Vec<u8> = buf;
                    Cow::Borrowed(&buf[..])
                }
                None => Cow::Owned(joined),
            }
        };
        Stripped::Line(Unwrapped {
            time,
            stream: Some(stream),
            source,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The json-file reader without serde answers as serde does wherever it answers: on lines
    /// written as dockerd writes them (every escape, Go's `\u003c` for `<`, a surrogate pair,
    /// non-ASCII text) and on each of them with a byte changed, dropped or doubled anywhere.
    #[test]
    fn json_file_lines_read_without_serde_read_as_with_it() {
        let texts = [
            "plain\n",
            "[2026-12-04 07:47:18 +0000] [36] [INFO] Booting worker with pid: 36\n",
            "127.0.0.1 - - [04/Dec/2026:07:13:38 +0000] \"GET /a?b=\\\\ HTTP/1.1\" 200 61 \"-\" \"curl\"\n",
            "tab\there / slash, é, \u{1F600}, <b>&amp;</b>\r\n",
            "\u{8}\u{c}\u{0}\u{1f} controls",
            "",
        ];
        let mut lines = Vec::new();
        for text in texts {
            for stream in ["stdout", "stderr"] {
                let log = serde_json::to_string(text).unwrap();
                // Go escapes HTML's characters.
                let log = log
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026");
                lines.push(format!(
                    r#"{{"log":{log},"stream":"{stream}","time":"2026-12-04T07:47:18.472844644Z"}}"#
                ).into_bytes());
            }
        }
        lines.push(
            br#"{"log":"pair \ud83d\ude00 lone \ud83d x\n","stream":"stdout","time":"t"}"#.to_vec(),
        );
        let mut read = 0;
        for line in &lines {
            let mut variants = vec![line.clone()];
            for k in 0..line.len() {
                for b in [b'"', b'\\', b'u', b'0', b'}', 0x01, 0x1f, 0xff] {
                    let mut m = line.clone();
                    m[k] = b;
                    variants.push(m);
                }
                let mut dropped = line.clone();
                dropped.remove(k);
                variants.push(dropped);
                let mut doubled = line.clone();
                doubled.insert(k, line[k]);
                variants.push(doubled);
            }
            for v in variants {
                let Some(fast) = json_file_fast(&v) else {
                    continue;
                };
                read += 1;
                let serde = serde_json::from_slice::<JsonFileLine>(&v);
                let text = String::from_utf8_lossy(&v);
                let serde = serde.unwrap_or_else(|e| panic!("{text}: serde: {e}"));
                assert_eq!(fast.log, serde.log, "{text}");
                assert_eq!(fast.stream, serde.stream, "{text}");
                assert_eq!(fast.time, serde.time, "{text}");
            }
        }
        // The lines as written are read (all but the one with a surrogate pair).
        assert!(read > lines.len(), "{read}");
        assert!(
            json_file_fast(&lines[0]).is_some() && json_file_fast(lines.last().unwrap()).is_none()
        );
    }

    type Row = (Option<String>, Option<Stream>, Option<String>, String);

    fn strip_all(lines: &[&[u8]]) -> Vec<Row> {
        let mut u = Unwrapper::default();
        let mut out = Vec::new();
        for l in lines {
            let mut scratch = Vec::new();
            if let Stripped::Line(w) = u.strip(l, &mut scratch) {
                out.push((
                    w.time.map(|t| t.to_rfc3339()),
                    w.stream,
                    w.source.map(|s| String::from_utf8_lossy(s).into_owned()),
                    String::from_utf8_lossy(&w.payload).into_owned(),
                ));
            }
        }
        out
    }

    const G: &str = "[2025-10-16 08:00:00 +0000] [36] [INFO] Booting worker with pid: 36";

    #[test]
    fn access_lines_are_left_alone_but_a_compose_name_may_start_with_a_digit() {
        let access =
            r#"10.0.0.1 - - [16/Oct/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "a | b""#;
        let named = format!("1web  | {access}");
        let spaced = format!("2 | {G}");
        assert_eq!(
            strip_all(&[access.as_bytes(), named.as_bytes(), spaced.as_bytes(), b"9"]),
            [
                (None, None, None, access.to_string()),
                (None, None, Some("1web".to_string()), access.to_string()),
                (None, None, Some("2".to_string()), G.to_string()),
                (None, None, None, "9".to_string()),
            ]
        );
    }

    #[test]
    fn plain_line_untouched() {
        let out = strip_all(&[G.as_bytes()]);
        assert_eq!(out, vec![(None, None, None, G.to_string())]);
    }

    #[test]
    fn docker_timestamps() {
        let l = format!("2014-09-16T06:17:46.000000000Z {G}");
        let out = strip_all(&[l.as_bytes()]);
        assert_eq!(out[0].0.as_deref(), Some("2014-09-16T06:17:46.000Z"));
        assert_eq!(out[0].3, G);
    }

    /// A pod's name and the rest of the line.
    type Prefix<'a> = Option<(&'a [u8], &'a [u8])>;

    /// The pod's name ends at the first `] `; a name with a space, or none, is no prefix.
    #[test]
    fn kubectl_prefix_ends_at_bracket_and_space() {
        let cases: [(&[u8], Prefix<'_>); 10] = [
            (b"[pod/web-1/web] rest", Some((b"web-1/web", b"rest"))),
            (b"[pod/a]b/c] rest] x", Some((b"a]b/c", b"rest] x"))),
            (b"[pod/a]] x", Some((b"a]", b"x"))),
            (b"[pod/a] ", Some((b"a", b""))),
            (b"[pod/a b] x", None),
            (b"[pod/] x", None),
            (b"[pod/a]", None),
            (b"[pod/a\tb] x", None),
            (b"[pod/a]\tx", None),
            (
                b"[pod/a-name-longer-than-one-block/of-32-bytes] x",
                Some((b"a-name-longer-than-one-block/of-32-bytes", b"x")),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                kubectl_prefix(line),
                want,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// [`kubectl_prefix`] against its definition (the name ends at the first `] ` and holds no
    /// white space), on every line of up to six bytes from `a`, `]`, space, tab and `é`'s first
    /// byte after `[pod/`, and on those lines after 30 bytes of name (the name's end past the
    /// first words, and in the scan's tail of odd bytes).
    #[test]
    fn kubectl_prefix_as_defined() {
        fn by_definition(line: &[u8]) -> Prefix<'_> {
            let rest = line.strip_prefix(b"[pod/")?;
            let end = rest.windows(2).position(|w| w == b"] ")?;
            let name = &rest[..end];
            let clean = !name.is_empty() && !name.iter().any(u8::is_ascii_whitespace);
            clean.then(|| (name, &rest[end + 2..]))
        }
        let alphabet = [b'a', b']', b' ', b'\t', 0xc3];
        let mut tails: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..6 {
            let longer: Vec<Vec<u8>> = tails
                .iter()
                .filter(|t| t.len() == tails.last().map_or(0, Vec::len))
                .flat_map(|t| alphabet.map(|c| [t.as_slice(), &[c]].concat()))
                .collect();
            tails.extend(longer);
        }
        assert_eq!(tails.len(), (0..=6).map(|n| 5usize.pow(n)).sum::<usize>());
        for tail in &tails {
            for head in [&b""[..], &[b'n'; 30]] {
                let line = [&b"[pod/"[..], head, tail].concat();
                assert_eq!(kubectl_prefix(&line), by_definition(&line), "{line:?}");
            }
        }
    }

    #[test]
    fn kubectl_prefix_before_and_after_timestamp() {
        let a = format!("[pod/web-7d9f/web] 2014-09-16T06:17:46.000000000Z {G}");
        let b = format!("2014-09-16T06:17:46.000000000Z [pod/web-7d9f/web] {G}");
        for out in [strip_all(&[a.as_bytes()]), strip_all(&[b.as_bytes()])] {
            assert_eq!(out[0].2.as_deref(), Some("web-7d9f/web"));
            assert!(out[0].0.is_some());
            assert_eq!(out[0].3, G);
        }
    }

    #[test]
    fn cri_partials_joined() {
        let out = strip_all(&[
            b"2016-10-06T00:17:09.669794202Z stdout P first half ",
            b"2016-10-06T00:17:09.669794202Z stderr F other stream",
            b"2016-10-06T00:17:09.769794202Z stdout F second half",
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, Some(Stream::Stderr));
        assert_eq!(out[0].3, "other stream");
        assert_eq!(out[1].3, "first half second half");
    }

    #[test]
    fn docker_json_file() {
        let out = strip_all(&[
            br#"{"log":"[2018-01-18 08:38:36 +0000] [29] [DEBUG] POST /4.0/x\n","stream":"stderr","time":"2018-01-18T08:38:36.549639081Z"}"#,
            br#"{"log":"a \u003cb\u003e \"q\" ","stream":"stdout","time":"2018-01-18T08:38:36.5Z"}"#,
            br#"{"log":"rest\n","stream":"stdout","time":"2018-01-18T08:38:36.6Z"}"#,
        ]);
        assert_eq!(
            out[0].3,
            "[2018-01-18 08:38:36 +0000] [29] [DEBUG] POST /4.0/x"
        );
        assert_eq!(out[0].1, Some(Stream::Stderr));
        assert_eq!(out[0].0.as_deref(), Some("2018-01-18T08:38:36.549Z"));
        assert_eq!(out[1].3, "a <b> \"q\" rest");
    }

    #[test]
    fn compose_with_colours() {
        let out = strip_all(&[
            format!("web-1    | {G}").as_bytes(),
            format!("\x1b[36mweb-1  |\x1b[0m {G}").as_bytes(),
        ]);
        assert_eq!(out[0].2.as_deref(), Some("web-1"));
        assert_eq!(out[0].3, G);
        assert_eq!(out[1].2.as_deref(), Some("web-1"));
        assert_eq!(out[1].3, G);
    }

    #[test]
    fn journald() {
        let out = strip_all(&[format!("Jul 05 09:13:44 webapps wsgi.sh[3129704]: {G}").as_bytes()]);
        assert_eq!(out[0].3, G);
        let out = strip_all(&[format!("Jul  5 09:13:44 web gunicorn: {G}").as_bytes()]);
        assert_eq!(out[0].3, G);
        let out = strip_all(&[b"Jul 05 is a date: not a prefix"]);
        assert_eq!(out[0].3, "Jul 05 is a date: not a prefix");
        // The tag ends at the first `: `, past colons without a space after them.
        let out = strip_all(&[format!("Jul  5 09:13:44 web py:wsgi: {G}").as_bytes()]);
        assert_eq!(out[0].3, G);
        let out = strip_all(&[b"Jul  5 09:13:44 web a:b c: x"]);
        assert_eq!(out[0].3, "Jul  5 09:13:44 web a:b c: x");
    }

    #[test]
    fn rsyslog_file_format() {
        for stamp in [
            "2026-12-04T07:22:22.478911+00:00",
            "2026-12-04T02:22:22.478911-05:00",
        ] {
            let out = strip_all(&[format!("{stamp} web01 gunicorn[27652]: {G}").as_bytes()]);
            assert_eq!(out[0].3, G, "{stamp}");
            assert_eq!(out[0].0.as_deref(), Some("2026-12-04T07:22:22.478Z"));
            let out =
                strip_all(&[format!("{stamp} ip-10-0-0-7.ec2 python3.11[9]: {G}").as_bytes()]);
            assert_eq!(out[0].3, G, "{stamp}");
        }
        for kept in [
            // Docker's stamp: what follows it is the app's own line.
            "2026-12-04T07:22:22.478911234Z web01 gunicorn[27652]: x",
            // No pid, no tag, no host, a pid that is no number, a host that is no name.
            "2026-12-04T07:22:22.478911+00:00 INFO myapp: x",
            "2026-12-04T07:22:22.478911+00:00 web01: x",
            "2026-12-04T07:22:22.478911+00:00 web01 gunicorn[]: x",
            "2026-12-04T07:22:22.478911+00:00 web01 gunicorn[12a]: x",
            "2026-12-04T07:22:22.478911+00:00 web01 [12]: x",
            "2026-12-04T07:22:22.478911+00:00 [web01] gunicorn[12]: x",
            "2026-12-04T07:22:22.478911+00:00 web01 gunicorn[12]:x",
        ] {
            let out = strip_all(&[kept.as_bytes()]);
            assert_eq!(out[0].3, kept[kept.find(' ').unwrap() + 1..], "{kept}");
        }
    }

    #[test]
    fn not_envelopes() {
        for l in [
            &b"127.0.0.1 - - [28/Nov/2026:02:23:44 +0000] \"GET / HTTP/1.1\" 200 3 \"-\" \"x\""[..],
            b"2015-11-12 17:23:50 [17027] [INFO] 6 workers",
            b"{\"log\": broken",
            b"\x1b[2J",
        ] {
            let out = strip_all(&[l]);
            assert_eq!(out[0].3.as_bytes(), l, "{}", String::from_utf8_lossy(l));
            assert_eq!(out[0].2, None);
        }
    }
}
