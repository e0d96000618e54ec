//! Several inputs merged into one stream in time order: an error log and an access log kept
//! apart are two halves of the same requests, and rotated files are one log. Line by line
//! ([`merge_lines`]) or in chunks parsed on every core ([`merge_chunked`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::sync::Arc;

use super::chunked::{BufferPool, Chunk, ChunkReader};
use super::line::{strip_and_parse, InputState, LineBuffers};
use super::{report_taken, Pipeline};
use crate::input::{LineReader, Progress};
use crate::parse::Ts;
use crate::settings::Patterns;

/// Bytes that the inputs of a merge share: all are open at once, each holding a read buffer
/// and a first chunk until the merge reaches it, and inputs whose times overlap are taken at
/// once, each with a batch in flight. So these get smaller as inputs get more, down to a
/// floor: 32 KiB for the chunks of pool jobs (smaller ones cost more per line), 4 KiB for a
/// first chunk and a read. An input taken alone gets a producer and full chunks (see
/// [`ChunkReader`]).
const DEFAULT_MERGED_BYTES: usize = 256 << 10;
const MIN_MERGED_CHUNK: usize = 32 << 10;
const MIN_FIRST_CHUNK: usize = 4 << 10;

/// Each of `inputs` merged inputs' share of [`DEFAULT_MERGED_BYTES`], down to `floor`.
fn merged_share(inputs: usize, floor: usize) -> usize {
    (DEFAULT_MERGED_BYTES / inputs.max(1)).max(floor)
}

/// One of several inputs merged by time, read in chunks: the chunk being taken (entered into
/// the pipeline) and its next line, with the time that line sorts by.
struct Head<'n> {
    file: usize,
    name: &'n str,
    reader: ChunkReader,
    chunk: Option<Chunk>,
    at: usize,
    line_no: u64,
    order: i64,
}

impl Head<'_> {
    /// Moves to the input's first line, entering its first chunk into `pipeline`, and finds its
    /// time; false for an input without lines.
    fn start(&mut self, pipeline: &mut Pipeline, progress: &dyn Progress) -> bool {
        loop {
            let first = self
                .chunk
                .as_ref()
                .and_then(|c| c.lines_from(self.at).next());
            if let Some(line) = first {
                self.order = sort_at(self.order, line.order_time());
                return true;
            }
            if !self.next_chunk(pipeline, true, progress) {
                return false;
            }
        }
    }

    /// Enters the input's next chunk into `pipeline`, at its first line (this one's lines were
    /// all taken); false at the end of the input. `alone`: no other input is being taken (see
    /// [`ChunkReader::next_chunk`]).
    fn next_chunk(
        &mut self,
        pipeline: &mut Pipeline,
        alone: bool,
        progress: &dyn Progress,
    ) -> bool {
        if let Some(done) = self.chunk.take() {
            self.reader.recycle(done);
        }
        let Some(next) = self.reader.next_chunk(alone, progress) else {
            return false;
        };
        self.chunk = Some(pipeline.enter(self.file, next));
        self.at = 0;
        true
    }

    /// Takes the input's lines, from the current one (input `k`'s least, just taken off the
    /// heap) on while they sort before `next` (the other inputs' least), in the order the heap
    /// would give them one at a time: rotated files do not overlap, and a whole file is one
    /// run. `taken` counts the inputs with lines taken that have not ended; false when this
    /// one ended.
    fn take_run(
        &mut self,
        (k, next): (usize, Option<(i64, usize)>),
        pipeline: &mut Pipeline,
        taken: &mut usize,
        progress: &dyn Progress,
        after_line: &mut dyn FnMut(&mut Pipeline),
    ) -> bool {
        let mut first = true;
        loop {
            let at = self.at;
            for line in self.chunk.iter().flat_map(|c| c.lines_from(at)) {
                if !first {
                    self.order = sort_at(self.order, line.order_time());
                    if next.is_some_and(|next| (self.order, k) > next) {
                        return true;
                    }
                }
                first = false;
                self.line_no += 1;
                if self.line_no == 1 {
                    *taken += 1;
                }
                pipeline.take(self.file, self.line_no, &line);
                if pipeline.notifies() {
                    after_line(pipeline);
                }
                self.at += 1;
            }
            if !self.next_chunk(pipeline, *taken == 1, progress) {
                *taken -= 1;
                return false;
            }
        }
    }
}

/// Where a line of time `time` sorts, after a line that sorted at `order`: a line without a
/// time keeps its place after the line above it.
fn sort_at(order: i64, time: Option<Ts>) -> i64 {
    time.map_or(order, |t| t.0)
}

/// One input being read line by line, with its next line and the time it sorts by.
struct Cursor {
    file: usize,
    reader: LineReader<'static>,
    line: Vec<u8>,
    line_no: u64,
    order: i64,
    /// A stripper and parsers used only to find each line's time for the merge (the
    /// pipeline strips and parses the line again, with the input's own).
    state: InputState,
    patterns: Arc<Patterns>,
    buffers: LineBuffers,
}

impl Cursor {
    fn new(file: usize, reader: LineReader<'static>, patterns: &Arc<Patterns>) -> Cursor {
        Cursor {
            file,
            reader,
            line: Vec::new(),
            line_no: 0,
            order: i64::MIN,
            state: InputState::default(),
            patterns: patterns.clone(),
            buffers: LineBuffers::default(),
        }
    }

    /// Reads the next line; `Ok(false)` at the end.
    fn advance(&mut self) -> std::io::Result<bool> {
        let Some(line) = self.reader.next_line()? else {
            return Ok(false);
        };
        self.line.clear();
        self.line.extend_from_slice(line);
        self.line_no += 1;
        let (state, buffers) = (&mut self.state, &mut self.buffers);
        let time = strip_and_parse(state, &self.patterns, &self.line, buffers, |l| {
            l.order_time()
        });
        self.order = sort_at(self.order, time);
        Ok(true)
    }
}

/// Several inputs, one line at a time in time order, `after_line` called after each; returns
/// the read errors that ended inputs early.
pub(super) fn merge_lines<'n>(
    inputs: Vec<(usize, LineReader<'static>)>,
    names: &'n [String],
    pipeline: &mut Pipeline,
    progress: &dyn Progress,
    after_line: &mut dyn FnMut(&mut Pipeline),
) -> Vec<(&'n str, std::io::Error)> {
    let mut errors = Vec::new();
    let size = merged_share(inputs.len(), MIN_FIRST_CHUNK);
    let patterns = pipeline.patterns().clone();
    let mut cursors: Vec<Cursor> = inputs
        .into_iter()
        .map(|(file, reader)| Cursor::new(file, reader.reading_at_most(size), &patterns))
        .collect();
    let mut heap = BinaryHeap::new();
    for (k, c) in cursors.iter_mut().enumerate() {
        match c.advance() {
            Ok(true) => heap.push(Reverse((c.order, k))),
            Ok(false) => {}
            Err(e) => errors.push((names[k].as_str(), e)),
        }
    }
    let mut seen = vec![0; cursors.len()];
    while let Some(Reverse((_, k))) = heap.pop() {
        let c = &mut cursors[k];
        if c.line_no % 65536 == 0 {
            report_taken(c.reader.bytes_taken(), &mut seen[k], progress);
        }
        pipeline.line(c.file, c.line_no, &c.line);
        after_line(pipeline);
        match c.advance() {
            Ok(true) => heap.push(Reverse((c.order, k))),
            Ok(false) => {}
            Err(e) => errors.push((names[k].as_str(), e)),
        }
    }
    errors
}

/// Several inputs read in chunks parsed on every core, their lines taken in time order; returns
/// the read errors that ended inputs early.
pub(super) fn merge_chunked<'n>(
    inputs: Vec<(usize, LineReader<'static>)>,
    names: &'n [String],
    pipeline: &mut Pipeline,
    size: usize,
    progress: &dyn Progress,
    after_line: &mut dyn FnMut(&mut Pipeline),
) -> Vec<(&'n str, std::io::Error)> {
    let small = size.min(merged_share(inputs.len(), MIN_MERGED_CHUNK));
    let first = small.min(merged_share(inputs.len(), MIN_FIRST_CHUNK));
    let pool = BufferPool::new(first, small, size, pipeline.patterns());
    let mut heads: Vec<Head> = inputs
        .into_iter()
        .zip(names)
        .map(|((file, reader), name)| Head {
            file,
            name,
            reader: ChunkReader::new(reader.reading_at_most(first), &pool),
            chunk: None,
            at: 0,
            line_no: 0,
            order: i64::MIN,
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (k, h) in heads.iter_mut().enumerate() {
        if h.start(pipeline, progress) {
            heap.push(Reverse((h.order, k)));
        }
    }
    // Inputs with lines taken that have not ended.
    let mut taken = 0;
    while let Some(Reverse((_, k))) = heap.pop() {
        let next = heap.peek().map(|Reverse(next)| *next);
        let h = &mut heads[k];
        if h.take_run((k, next), pipeline, &mut taken, progress, after_line) {
            heap.push(Reverse((h.order, k)));
        }
    }
    heads
        .iter_mut()
        .filter_map(|h| Some((h.name, h.reader.take_error()?)))
        .collect()
}
