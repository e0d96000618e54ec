//! The front half of one line, written once for every way of reading: its envelope stripped,
//! then its payload parsed by the parser of its pod. Line by line, merged and followed inputs
//! call `strip_and_parse`; chunks call its two halves apart ([`Unwrapper::strip`] while the
//! chunk is read, `parse_payload` once the payloads sit in the chunk's own buffers), because
//! a parsed line borrows its payload and a chunk's payloads must all be in place first.

use std::sync::Arc;

use super::ByPod;
use crate::input::envelope::{Stripped, Unwrapper};
use crate::parse::{LineParser, Parsed, Ts};
use crate::settings::Patterns;

/// What the front half made of one line: the line as read, the pod its envelope named (empty
/// when none), the envelope's time, the payload, and the parse. A view: a chunk keeps the
/// parses apart from its stripped lines, so that a parse is not copied once more into a line
/// of its own.
pub struct ParsedLine<'a> {
    pub raw: &'a [u8],
    pub pod: &'a [u8],
    /// The envelope's time.
    pub time: Option<Ts>,
    /// What the envelope wrapped (empty for a partial record): a record left to decode is
    /// parsed again from it.
    pub payload: &'a [u8],
    pub body: &'a LineBody<'a>,
}

impl ParsedLine<'_> {
    /// The time the line sorts by when inputs are merged: its envelope's, else its text's.
    pub fn order_time(&self) -> Option<Ts> {
        self.time.or(match *self.body {
            LineBody::Parsed(Ok(ref p)) => p.time,
            LineBody::Parsed(Err(time)) => time,
            LineBody::Partial => None,
        })
    }
}

/// The parse of a line's payload.
pub enum LineBody<'a> {
    /// A CRI partial record: its text waits for the rest of the line.
    Partial,
    /// The parser's answer as it gave it, so that it is written in place, not copied into
    /// another shape. `Err`: parsed in place (`Decoding::InPlace`), a structured record whose
    /// fields had to be unescaped, with its time: it is parsed again from the line's payload,
    /// into a buffer, when consumed (a structured record parses alike in any parser state).
    Parsed(Result<Parsed<'a>, Option<Ts>>),
}

/// Where a parse may put text it has to decode (a structured record's escaped fields).
pub(crate) enum Decoding<'s> {
    /// Into this buffer: the parse may borrow it, and is always an `Ok` [`LineBody::Parsed`].
    Into(&'s mut Vec<u8>),
    /// Nowhere: the parse borrows only the payload, and a record that needs decoding is
    /// an `Err` [`LineBody::Parsed`] (chunks: their parses outlive any one buffer).
    InPlace,
}

/// One input's front-half state as it stands between two lines: its envelope stripper (a CRI
/// partial line waiting for its rest) and a parser per pod (a traceback under way).
#[derive(Clone, Default)]
pub(crate) struct InputState {
    pub(crate) unwrapper: Unwrapper,
    pub(crate) parsers: ByPod<LineParser>,
}

/// The buffers [`strip_and_parse`] fills, kept from line to line.
#[derive(Default)]
pub(crate) struct LineBuffers {
    /// An envelope's payload when it had to be rebuilt (colours taken out, records joined).
    scratch: Vec<u8>,
    /// A structured record's decoded fields.
    decoded: Vec<u8>,
}

/// Strips `raw`'s envelope with `state`'s stripper and parses its payload with the parser of
/// its pod (made with `patterns` the first time), then hands the line to `then`. Both move
/// `state` on. The line borrows `buffers`, hence the hand-over rather than a return.
pub(crate) fn strip_and_parse<R>(
    state: &mut InputState,
    patterns: &Arc<Patterns>,
    raw: &[u8],
    buffers: &mut LineBuffers,
    then: impl FnOnce(&ParsedLine<'_>) -> R,
) -> R {
    let LineBuffers { scratch, decoded } = buffers;
    match state.unwrapper.strip(raw, scratch) {
        Stripped::Partial => then(&ParsedLine {
            raw,
            pod: b"",
            time: None,
            payload: b"",
            body: &LineBody::Partial,
        }),
        Stripped::Line(u) => {
            let pod = u.source.unwrap_or(b"");
            let body = parse_payload(
                &mut state.parsers,
                patterns,
                pod,
                &u.payload,
                Decoding::Into(decoded),
            );
            then(&ParsedLine {
                raw,
                pod,
                time: u.time,
                payload: &u.payload,
                body: &body,
            })
        }
    }
}

/// Parses a stripped line's `payload` with the parser of `pod` in `parsers` (made with
/// `patterns` the first time), decoding as `decoding` allows.
#[inline]
pub(crate) fn parse_payload<'a>(
    parsers: &mut ByPod<LineParser>,
    patterns: &Arc<Patterns>,
    pod: &[u8],
    payload: &'a [u8],
    decoding: Decoding<'a>,
) -> LineBody<'a> {
    let k = parsers.slot(pod, |_| LineParser::with_patterns(patterns.clone()));
    let parser = &mut parsers.items[k].1;
    match decoding {
        Decoding::Into(buffer) => LineBody::Parsed(Ok(parser.parse(payload, buffer))),
        Decoding::InPlace => LineBody::Parsed(parser.parse_in_place(payload)),
    }
}

/// Parses the payload of a line left to decode (an `Err` [`LineBody::Parsed`]) again, into
/// `buffer`: with a fresh parser, as such a record parses alike in any parser state.
#[cold]
pub(crate) fn reparse<'a>(
    patterns: &Arc<Patterns>,
    payload: &'a [u8],
    buffer: &'a mut Vec<u8>,
) -> Parsed<'a> {
    LineParser::with_patterns(patterns.clone()).parse(payload, buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`strip_and_parse`] makes of each of `lines`, read in order by one input: the pod,
    /// whether the envelope gave a time, and the parse's pid (`None` for a partial record).
    fn read(lines: &[&str]) -> Vec<(String, bool, Option<Option<u32>>)> {
        let (mut state, mut buffers) = (InputState::default(), LineBuffers::default());
        let patterns = Arc::default();
        let mut out = Vec::new();
        for raw in lines {
            strip_and_parse(&mut state, &patterns, raw.as_bytes(), &mut buffers, |l| {
                let pid = match *l.body {
                    LineBody::Parsed(Ok(ref p)) => Some(p.pid),
                    LineBody::Partial => None,
                    LineBody::Parsed(Err(_)) => unreachable!("decoded into a buffer"),
                };
                let pod = String::from_utf8_lossy(l.pod).into_owned();
                out.push((pod, l.time.is_some(), pid));
            });
        }
        out
    }

    #[test]
    fn a_line_is_stripped_then_parsed_by_its_pods_parser() {
        let boot = "[2025-10-16 08:00:00 +0000] [36] [INFO] Booting worker with pid: 36";
        let kubectl = format!("[pod/web-1/web] 2025-10-16T08:00:00.000000000Z {boot}");
        assert_eq!(
            read(&[boot, &kubectl]),
            [
                (String::new(), false, Some(Some(36))),
                ("web-1/web".to_string(), true, Some(Some(36))),
            ]
        );
    }

    #[test]
    fn a_cri_partial_record_waits_for_its_rest() {
        let first = "2025-10-16T08:00:00.000000000Z stderr P [2025-10-16 08:00:00 +0000] [36] ";
        let rest = "2025-10-16T08:00:00.000000000Z stderr F [INFO] Booting worker with pid: 36";
        assert_eq!(
            read(&[first, rest]),
            [
                (String::new(), false, None),
                (String::new(), true, Some(Some(36)))
            ]
        );
    }

    #[test]
    fn a_line_carries_the_payload_its_envelope_wrapped() {
        let boot = "[2025-10-16 08:00:00 +0000] [36] [INFO] Booting worker with pid: 36";
        let kubectl = format!("[pod/web-1/web] 2025-10-16T08:00:00.000000000Z {boot}");
        let (mut state, mut buffers) = (InputState::default(), LineBuffers::default());
        let payload = strip_and_parse(
            &mut state,
            &Arc::default(),
            kubectl.as_bytes(),
            &mut buffers,
            |l| l.payload.to_vec(),
        );
        assert_eq!(payload, boot.as_bytes());
    }

    #[test]
    fn in_place_a_record_to_decode_is_parsed_again_later() {
        let record = br#"{"level": "INFO", "message": "say \"hi\""}"#;
        let patterns = Arc::default();
        let mut parsers = ByPod::default();
        let body = parse_payload(&mut parsers, &patterns, b"", record, Decoding::InPlace);
        assert!(matches!(body, LineBody::Parsed(Err(None))));
        let mut buffer = Vec::new();
        let decoded = Decoding::Into(&mut buffer);
        match parse_payload(&mut parsers, &patterns, b"", record, decoded) {
            LineBody::Parsed(Ok(p)) => assert_eq!(p.text, br#"say "hi""#),
            _ => panic!("decoded into the buffer"),
        }
        assert_eq!(
            reparse(&patterns, record, &mut Vec::new()).text,
            br#"say "hi""#
        );
    }
}
