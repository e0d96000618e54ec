//! Log lines kept as evidence. A request keeps its start line as it was read ([`RawLine`], the
//! bytes inline when they are few) and becomes [`Evidence`] only if it is ever shown; its path
//! and host are places in that line ([`Part`]), not copies.

use std::sync::Arc;

/// Longest text kept from a log line for evidence.
pub(super) const EVIDENCE_CHARS: usize = 400;
/// How many evidence lines are kept per kind of event.
pub const EVIDENCE_PER_KIND: usize = 3;

/// A log line kept as evidence: where it is and what it says (raw, unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub file: Arc<str>,
    pub line: u64,
    pub text: String,
}

impl Evidence {
    pub fn new(file: &Arc<str>, line: u64, raw: &[u8]) -> Evidence {
        let cut = raw.len().min(EVIDENCE_CHARS * 4);
        let mut text: String = String::from_utf8_lossy(&raw[..cut]).into_owned();
        if let Some((idx, _)) = text.char_indices().nth(EVIDENCE_CHARS) {
            text.truncate(idx);
            text.push('…');
        }
        Evidence {
            file: file.clone(),
            line,
            text,
        }
    }
}

/// A line kept as it was read, made into [`Evidence`] only if it is ever shown: every request
/// keeps its start line, and most are never shown.
#[derive(Debug, Clone)]
pub(super) struct RawLine {
    pub(super) file: Arc<str>,
    pub(super) line: u64,
    raw: Text,
}

/// Bytes kept inside the record when they are few (a request's start line nearly always is),
/// on the heap otherwise: one allocation per request fewer.
#[derive(Debug, Clone)]
pub(super) enum Text {
    Inline(u8, [u8; INLINE_TEXT]),
    Heap(Box<[u8]>),
}

const INLINE_TEXT: usize = 200;

impl Text {
    /// Holds `b` instead, in place when it fits (a record is not built around a copy of its
    /// line, then moved).
    fn set(&mut self, b: &[u8]) {
        match (self, u8::try_from(b.len())) {
            (Text::Inline(len, bytes), Ok(n)) if b.len() <= INLINE_TEXT => {
                bytes[..b.len()].copy_from_slice(b);
                *len = n;
            }
            (text, Ok(n)) if b.len() <= INLINE_TEXT => {
                let mut bytes = [0; INLINE_TEXT];
                bytes[..b.len()].copy_from_slice(b);
                *text = Text::Inline(n, bytes);
            }
            (text, _) => *text = Text::Heap(b.into()),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Text::Inline(n, bytes) => &bytes[..usize::from(*n)],
            Text::Heap(b) => b,
        }
    }
}

impl RawLine {
    /// Line `line` of `file`, its text not kept yet ([`RawLine::keep`]).
    pub(super) fn empty(file: &Arc<str>, line: u64) -> RawLine {
        RawLine {
            file: file.clone(),
            line,
            raw: Text::Inline(0, [0; INLINE_TEXT]),
        }
    }

    /// Makes this line `line` of `file` again, its text not kept yet (a record's box reused).
    pub(super) fn reset(&mut self, file: &Arc<str>, line: u64) {
        if !Arc::ptr_eq(&self.file, file) {
            self.file = file.clone();
        }
        self.line = line;
    }

    /// Keeps `raw` (as much of it as evidence ever shows).
    pub(super) fn keep(&mut self, raw: &[u8]) {
        self.raw.set(&raw[..raw.len().min(EVIDENCE_CHARS * 4)]);
    }

    pub(super) fn evidence(&self) -> Evidence {
        Evidence::new(&self.file, self.line, self.raw.bytes())
    }

    /// `b` (a piece of the line `raw` this was made of) as a [`Part`] of the kept line.
    pub(super) fn part(&self, raw: &[u8], b: &[u8]) -> Part {
        let kept = &raw[..self.raw.bytes().len()];
        match crate::input::offset_in(kept, b) {
            Some(k) => Part::At(k as u32, (k + b.len()) as u32),
            None => Part::Own(b.into()),
        }
    }

    pub(super) fn get<'a>(&'a self, p: &'a Part) -> &'a [u8] {
        match p {
            Part::At(a, b) => &self.raw.bytes()[*a as usize..*b as usize],
            Part::Own(b) => b,
        }
    }
}

/// A request's path or host: where it is in the request's kept start line (nearly always), else
/// a copy (the start line was rebuilt from an envelope, or the host came from another line).
#[derive(Debug, Clone)]
pub(super) enum Part {
    At(u32, u32),
    Own(Box<[u8]>),
}

pub(super) fn keep(list: &mut Vec<Evidence>, e: impl FnOnce() -> Evidence) {
    if list.len() < EVIDENCE_PER_KIND {
        list.push(e());
    }
}
