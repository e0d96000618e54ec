//! The front half of an input (envelope, parse) beside the correlating thread, handed back in
//! input order.
//!
//! Lines are read into newline-aligned chunks; each chunk is stripped and parsed on its own,
//! with a fresh envelope stripper and fresh parsers, by the reading thread or a rayon worker
//! (see `Batch::read`), while the previous batch is being correlated. A fresh stripper or
//! parser is what a stream has between records, so the guess is right unless a chunk begins
//! inside a CRI partial line, a traceback or a config dump: the consumer knows the true state
//! when the chunk's turn comes, and then parses the chunk again from it: the lines up to where
//! both states agree (the rest of a traceback), or the whole chunk when its stripper's state
//! differed. Either way the correlator sees exactly what a one-line-at-a-time read gives it,
//! whatever the chunk size and the number of threads.
//!
//! One input is pumped ([`pump`]): a producer thread reads while the caller consumes. Several
//! inputs merged by time are each a [`ChunkReader`] the merge pulls chunks from.

use std::io;
use std::ops::Range;
use std::sync::{mpsc, Arc};

use rayon::prelude::*;
use self_cell::self_cell;

use super::line::{parse_payload, Decoding, InputState, LineBody, ParsedLine};
use super::{report_taken, ByPod};
use crate::input::envelope::{Stripped, Unwrapper};
use crate::input::{newlines, offset_in, trim_line, LineReader, Progress};
use crate::parse::{LineParser, Ts};
use crate::settings::Patterns;

/// Bytes of lines per chunk: `REQTRAIL_CHUNK_BYTES` sets it (at most 16 MiB: offsets in a
/// chunk are 32-bit), for the tests that prove the size changes nothing; `0` there means no
/// chunks (each line read, parsed and correlated in turn).
pub fn chunk_bytes() -> Option<usize> {
    match std::env::var("REQTRAIL_CHUNK_BYTES").map(|v| v.parse::<usize>()) {
        Ok(Ok(0)) => None,
        Ok(Ok(n)) => Some(n.min(MAX_CHUNK)),
        _ => Some(256 << 10),
    }
}

const MAX_CHUNK: usize = 16 << 20;

/// Where a stripped line's payload or pod is, as a range of bytes: in the chunk as read, or
/// rebuilt into the chunk's arena (colours taken out, records joined).
#[derive(Debug, Clone, Copy)]
enum Span {
    Raw(u32, u32),
    Arena(u32, u32),
}

/// One line after its envelope came off.
#[derive(Debug)]
struct StrippedLine {
    raw: Range<u32>,
    /// `None`: a CRI partial record.
    payload: Option<Span>,
    pod: Span,
    time: Option<Ts>,
}

/// A chunk's bytes and what stripping them made: whole lines, each followed by `\n`.
#[derive(Debug)]
pub struct StrippedChunk {
    /// Lines in `data[..len]`; the rest is room kept for a later chunk.
    data: Vec<u8>,
    len: usize,
    arena: Vec<u8>,
    lines: Vec<StrippedLine>,
    /// The stripper as it stands after the chunk's last line.
    pub(crate) unwrapper: Unwrapper,
}

/// A chunk's buffers, emptied and kept for a later chunk: with them, memory stays at what the
/// chunks in flight need, where fresh buffers made on one thread and freed on another left the
/// allocator holding tens of megabytes more (and cost a page fault per fresh page).
#[derive(Default)]
struct ChunkBuffers {
    /// Lines in `data[..len]`; the rest is room, zeroed once, for a later chunk.
    data: Vec<u8>,
    len: usize,
    arena: Vec<u8>,
    lines: Vec<StrippedLine>,
    bodies: Vec<LineBody<'static>>,
}

/// Where the pieces of `raw`'s envelope `stripped` left lie (`raw` at `start` in the chunk):
/// its payload, pod and time, each piece that is not a slice of the line rebuilt into `arena`.
#[inline(never)]
fn enveloped(
    stripped: Stripped<'_>,
    (raw, start): (&[u8], usize),
    arena: &mut Vec<u8>,
) -> (Option<Span>, Span, Option<Ts>) {
    let mut place = |piece: &[u8]| match offset_in(raw, piece) {
        Some(at) => {
            let from = (start + at) as u32;
            Span::Raw(from, from + piece.len() as u32)
        }
        None => {
            let from = arena.len() as u32;
            arena.extend_from_slice(piece);
            Span::Arena(from, arena.len() as u32)
        }
    };
    match stripped {
        Stripped::Partial => (None, Span::Raw(0, 0), None),
        Stripped::Line(u) => (
            Some(place(&u.payload)),
            place(u.source.unwrap_or(b"")),
            u.time,
        ),
    }
}

impl StrippedChunk {
    /// Strips every line of `data` with `unwrapper`, into `arena` and `lines` (emptied).
    fn strip(
        (data, len): (Vec<u8>, usize),
        mut arena: Vec<u8>,
        mut lines: Vec<StrippedLine>,
        mut unwrapper: Unwrapper,
    ) -> StrippedChunk {
        arena.clear();
        lines.clear();
        // About one line per 96 bytes (gunicorn's are 80-250): a fresh list grown from empty
        // copied itself a dozen times.
        lines.reserve(len / 96);
        let mut scratch = Vec::new();
        let mut start = 0;
        for nl in newlines(&data[..len]) {
            let raw = trim_line(&data[start..nl]);
            let span = start as u32..(start + raw.len()) as u32;
            let (payload, pod, time) = match unwrapper.strip_enveloped(raw, &mut scratch) {
                // A bare line is its own payload: no answer made and taken apart (~75
                // instructions a line).
                None => (Some(Span::Raw(span.start, span.end)), Span::Raw(0, 0), None),
                Some(stripped) => enveloped(stripped, (raw, start), &mut arena),
            };
            lines.push(StrippedLine {
                raw: span,
                payload,
                pod,
                time,
            });
            start = nl + 1;
        }
        StrippedChunk {
            data,
            len,
            arena,
            lines,
            unwrapper,
        }
    }

    fn piece(&self, p: Span) -> &[u8] {
        match p {
            Span::Raw(a, b) => &self.data[a as usize..b as usize],
            Span::Arena(a, b) => &self.arena[a as usize..b as usize],
        }
    }

    /// Stripped line `l` of the chunk, with its parse.
    #[inline]
    fn line<'c>(&'c self, l: &StrippedLine, body: &'c LineBody<'c>) -> ParsedLine<'c> {
        ParsedLine {
            raw: &self.data[l.raw.start as usize..l.raw.end as usize],
            pod: self.piece(l.pod),
            time: l.time,
            payload: l.payload.map_or(&[][..], |p| self.piece(p)),
            body,
        }
    }
}

/// The parses of a chunk's lines, one for each of its stripped lines, and its parsers as they
/// stand after the last line.
pub struct ParsedChunk<'a> {
    bodies: Vec<LineBody<'a>>,
    pub(crate) parsers: ByPod<LineParser>,
}

self_cell!(
    /// One chunk, read, stripped and parsed.
    pub struct Chunk {
        owner: StrippedChunk,
        #[covariant]
        dependent: ParsedChunk,
    }
);

impl Chunk {
    /// Strips and parses the lines in `buffers`, starting from `state`.
    fn make(buffers: ChunkBuffers, patterns: &Arc<Patterns>, state: InputState) -> Chunk {
        let InputState {
            unwrapper,
            mut parsers,
        } = state;
        let stripped = StrippedChunk::strip(
            (buffers.data, buffers.len),
            buffers.arena,
            buffers.lines,
            unwrapper,
        );
        Chunk::new(stripped, |chunk| {
            let mut bodies: Vec<LineBody<'_>> = buffers.bodies;
            bodies.clear();
            let n = chunk.lines.len();
            if bodies.capacity() < n {
                // Made anew, a quarter over the lines: grown, the empty list's old block would
                // be copied, and doubled, a megabyte more of parses would sit in each chunk.
                bodies = Vec::with_capacity(n + n / 4);
            }
            bodies.extend(chunk.lines.iter().map(|l| match l.payload {
                None => LineBody::Partial,
                Some(p) => {
                    let (pod, payload) = (chunk.piece(l.pod), chunk.piece(p));
                    parse_payload(&mut parsers, patterns, pod, payload, Decoding::InPlace)
                }
            }));
            ParsedChunk { bodies, parsers }
        })
    }

    /// The chunk's buffers, emptied, for another chunk.
    fn recycle(mut self) -> ChunkBuffers {
        let bodies = self.with_dependent_mut(|_, d| {
            let mut bodies = std::mem::take(&mut d.bodies);
            bodies.clear();
            // Empty, it borrows nothing: collected in place, it keeps its allocation.
            bodies
                .into_iter()
                .map(|_| -> LineBody<'static> { unreachable!("emptied above") })
                .collect()
        });
        let stripped = self.into_owner();
        ChunkBuffers {
            data: stripped.data,
            len: stripped.len,
            arena: stripped.arena,
            lines: stripped.lines,
            bodies,
        }
    }

    /// The same lines stripped and parsed again, starting from `state`: for a chunk whose
    /// input's stripper at its start was not the fresh one it was made with.
    pub(crate) fn remake(self, patterns: &Arc<Patterns>, state: InputState) -> Chunk {
        // The buffers come back with the lines as read still in `data`.
        Chunk::make(self.recycle(), patterns, state)
    }

    /// Parses the chunk's first lines again, from `parsers` (its input's parsers as they stood
    /// at the chunk's start), for a chunk whose stripper started as it was made (idle) but
    /// whose parsers did not. Only the lines up to where the true parsers and the fresh ones it
    /// was made with reach the same state are parsed again: from there on, both parse alike.
    /// Typically that is the rest of a traceback, not the whole chunk.
    pub(crate) fn resume_parsing(
        mut self,
        patterns: &Arc<Patterns>,
        mut parsers: ByPod<LineParser>,
    ) -> Chunk {
        self.with_dependent_mut(|chunk, parsed| {
            let mut fresh: ByPod<LineParser> = ByPod::default();
            for (l, body) in chunk.lines.iter().zip(parsed.bodies.iter_mut()) {
                if agree(&parsers, &fresh) {
                    return;
                }
                let Some(p) = l.payload else {
                    continue;
                };
                let (payload, pod) = (chunk.piece(p), chunk.piece(l.pod));
                parse_payload(&mut fresh, patterns, pod, payload, Decoding::InPlace);
                *body = parse_payload(&mut parsers, patterns, pod, payload, Decoding::InPlace);
            }
            if !agree(&parsers, &fresh) {
                // Never the same: every line was parsed again, and the chunk ends as they do.
                parsed.parsers = parsers;
            }
        });
        self
    }

    pub fn parsed(&self) -> &ParsedChunk<'_> {
        self.borrow_dependent()
    }

    /// The chunk's lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = ParsedLine<'_>> {
        self.lines_from(0)
    }

    /// The chunk's lines from line `k` (from 0) on.
    pub fn lines_from(&self, k: usize) -> impl Iterator<Item = ParsedLine<'_>> {
        let (stripped, parsed) = (self.borrow_owner(), self.borrow_dependent());
        let lines = stripped.lines.get(k..).unwrap_or_default().iter();
        let lines = lines.zip(parsed.bodies.get(k..).unwrap_or_default());
        lines.map(|(l, body)| stripped.line(l, body))
    }

    /// The stripper as it stands after the chunk's last line.
    pub fn unwrapper(&self) -> &Unwrapper {
        &self.borrow_owner().unwrapper
    }
}

/// Whether every pod's parser in `parsers` is in the state of its parser in `fresh` (a fresh
/// one when `fresh` has none). Every pod `fresh` has, `parsers` has too.
fn agree(parsers: &ByPod<LineParser>, fresh: &ByPod<LineParser>) -> bool {
    parsers.items.iter().all(|(pod, p)| match fresh.get(pod) {
        Some(q) => p.same_state(q),
        None => p.is_idle(),
    })
}

/// A batch: the chunks read and made in one go (two per thread), as the reading side hands
/// them over.
struct Batch {
    chunks: Vec<Chunk>,
    /// The read error that ended the input, if one did.
    error: Option<io::Error>,
    /// The input ended with this batch (it is short, or a read failed).
    last: bool,
    /// The input's bytes read so far, for the progress bar.
    taken: u64,
}

impl Batch {
    /// Reads up to `n` chunks from `reader` into buffers from `free` and makes them on every
    /// core; the error, if a read failed, comes with the chunks read before it.
    fn read(
        reader: &mut LineReader<'_>,
        n: usize,
        size: usize,
        patterns: &Arc<Patterns>,
        free: &mut Vec<ChunkBuffers>,
    ) -> Batch {
        let mut read = Vec::new();
        let mut error = None;
        for _ in 0..n {
            let mut buffers = free.pop().unwrap_or_default();
            // Read straight into the chunk's buffer (the lines read before a failure came
            // with the call before it).
            match reader.read_lines_in_place(&mut buffers.data, size) {
                Ok(0) => break,
                Ok(n) => {
                    buffers.len = n;
                    read.push(buffers);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let make = |buffers| Chunk::make(buffers, patterns, InputState::default());
        // The correlating thread keeps a core busy: with two cores, the other is this thread's
        // own when reading a file only copies it (a producer's, or a pool job's among merged
        // inputs). Pool workers woken for every batch there only took turns with the
        // correlating thread, and spun between batches (about 4 % more CPU and time on 1 GiB;
        // two merged files whose times overlap: 0.98 x the CPU made here). A pipe's writer
        // (`cat`, `docker logs`) needs a core too, and a compressed file is decoded here: then
        // the pool parses while this thread reads (through a pipe, 0.9 x the time of parsing
        // here).
        let chunks: Vec<Chunk> = if rayon::current_num_threads() > 2 || !reader.is_plain_file() {
            read.into_par_iter().map(make).collect()
        } else {
            read.into_iter().map(make).collect()
        };
        Batch {
            last: error.is_some() || chunks.len() < n,
            chunks,
            error,
            taken: reader.bytes_taken(),
        }
    }
}

/// The reading side: batches of chunks, read and made, until the input ends or a read
/// fails (that batch carries the error). Consumed chunks' buffers come back over `free`.
struct Batches<'a, 'r> {
    reader: &'a mut LineReader<'r>,
    /// Chunks per batch.
    n: usize,
    size: usize,
    patterns: &'a Arc<Patterns>,
    free: mpsc::Receiver<ChunkBuffers>,
    kept: Vec<ChunkBuffers>,
    done: bool,
}

impl Iterator for Batches<'_, '_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        self.kept.extend(self.free.try_iter());
        let batch = Batch::read(
            self.reader,
            self.n,
            self.size,
            self.patterns,
            &mut self.kept,
        );
        self.done = batch.last;
        Some(batch)
    }
}

/// Hands every chunk of `batches` to `consume` in order, and the buffers of the chunk it gives
/// back (the same or one made again from them) back over `free`; returns the read error that
/// ended the input, if any.
fn drain(
    batches: impl Iterator<Item = Batch>,
    consume: &mut dyn FnMut(Chunk) -> Chunk,
    free: &mpsc::Sender<ChunkBuffers>,
    progress: &dyn Progress,
) -> Option<io::Error> {
    let (mut failed, mut seen) = (None, 0);
    for batch in batches {
        report_taken(batch.taken, &mut seen, progress);
        for c in batch.chunks {
            // The reading side may be gone (it read the last batch): then the buffers just go.
            let _ = free.send(consume(c).recycle());
        }
        failed = batch.error;
    }
    failed
}

/// Reads `reader` to its end in chunks of about `size` bytes (at most 16 MiB) and hands each to
/// `consume`, in order, on the calling thread, while a producer thread reads the next batch and
/// makes it (see `Batch::read`). Every allocation the consumer makes (the correlator's records)
/// is freed on the thread that made it, and consumed chunks' buffers go back to the producer:
/// memory holds steady instead of the allocator returning pages and faulting them in again.
/// Stops at the first read error and returns it.
pub fn pump(
    reader: &mut LineReader<'_>,
    size: usize,
    patterns: &Arc<Patterns>,
    consume: &mut dyn FnMut(Chunk) -> Chunk,
    progress: &dyn Progress,
) -> Option<io::Error> {
    let (free_tx, free) = mpsc::channel::<ChunkBuffers>();
    let batches = Batches {
        reader,
        n: producer_batch(size),
        size: size.min(MAX_CHUNK),
        patterns,
        free,
        kept: Vec::new(),
        done: false,
    };
    if rayon::current_thread_index().is_some() {
        // On a pool thread already (`--separate` reads its inputs in parallel): blocking it on
        // a producer that needs the pool could leave no thread to parse. Read and parse here.
        return drain(batches, consume, &free_tx, progress);
    }
    let (full_tx, full) = mpsc::sync_channel(0);
    std::thread::scope(|s| {
        s.spawn(move || {
            for b in batches {
                if full_tx.send(b).is_err() {
                    return;
                }
            }
        });
        drain(full.into_iter(), consume, &free_tx, progress)
    })
}

/// Two chunks per thread: enough to keep every core busy, few enough to bound memory.
fn chunks_per_batch() -> usize {
    2 * rayon::current_num_threads()
}

/// Bytes a producer thread hands over at a time: each batch wakes the correlating thread and
/// the producer once, and 1 MiB batches spent about 5 % more CPU than 2 MiB ones on 1 GiB;
/// 4 MiB ones took the peak memory through a pipe to 63 MiB, at the 64 MiB bound.
const PRODUCER_BATCH: usize = 2 << 20;

/// Chunks of `size` bytes per batch of a producer thread: [`PRODUCER_BATCH`] bytes' worth,
/// at least two per pool thread, and at most 64 (the tests' chunks of a few bytes).
fn producer_batch(size: usize) -> usize {
    (PRODUCER_BATCH / size.max(1))
        .clamp(1, 64)
        .max(chunks_per_batch())
}

/// What the [`ChunkReader`]s of one merge share: a pool of the buffers of inputs that ended,
/// and the sizes they all read in.
pub struct BufferPool {
    /// Chunks per batch of a pool job (a producer's: [`producer_batch`]); bytes of an input's
    /// first chunk, per chunk of pool jobs, and of a producer.
    n: usize,
    first: usize,
    small: usize,
    size: usize,
    patterns: Arc<Patterns>,
    /// The buffers of inputs that ended, for the inputs still read: rotated files are taken
    /// one after the other, and each would otherwise have buffers of its own made.
    free: std::sync::Mutex<Vec<ChunkBuffers>>,
}

impl BufferPool {
    /// Inputs read in chunks of about `small` bytes (the first of `first`), or of `size` once a
    /// producer thread reads them.
    pub fn new(
        first: usize,
        small: usize,
        size: usize,
        patterns: &Arc<Patterns>,
    ) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            n: chunks_per_batch(),
            first: first.min(MAX_CHUNK),
            small: small.min(MAX_CHUNK),
            size: size.min(MAX_CHUNK),
            patterns: patterns.clone(),
            free: Default::default(),
        })
    }

    /// Keeps the buffers of an input that ended.
    fn keep(&self, free: impl IntoIterator<Item = ChunkBuffers>) {
        if let Ok(mut kept) = self.free.lock() {
            kept.extend(free);
        }
    }

    /// Adds kept buffers to `free`, up to `n`.
    fn lend(&self, free: &mut Vec<ChunkBuffers>, n: usize) {
        if let Ok(mut kept) = self.free.lock() {
            let more = n.saturating_sub(free.len()).min(kept.len());
            let from = kept.len() - more;
            free.extend(kept.drain(from..));
        }
    }
}

/// What a pool job gives back: the batch it read and made, and the reader and free buffers it
/// took along.
struct FetchedBatch {
    reader: LineReader<'static>,
    free: Vec<ChunkBuffers>,
    batch: Batch,
}

/// Where a [`ChunkReader`]'s next batch comes from: nowhere yet, a pool job, or a producer
/// thread.
enum BatchSource {
    /// Nothing is being read: the next batch is, when it is wanted.
    Idle(LineReader<'static>),
    /// A pool job reads and makes a batch.
    Fetching(mpsc::Receiver<FetchedBatch>),
    /// A producer thread reads and makes the batches ahead, as [`pump`]'s does.
    Producer {
        batches: mpsc::Receiver<Batch>,
        free: mpsc::Sender<ChunkBuffers>,
        thread: std::thread::JoinHandle<()>,
    },
    Ended,
}

/// A producer thread that stopped before its input's last batch: it can only have panicked,
/// and the panic goes on here rather than the input ending early unnoticed.
fn ended(thread: std::thread::JoinHandle<()>) -> Option<Batch> {
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
    None
}

/// One of several inputs merged by time, read in chunks: the merge pulls its chunks one by
/// one and takes their lines in time order. Every input's first chunk is read and made by a
/// pool job at once; an input holds that one chunk until its lines are all taken (most of many
/// rotated files wait that long). From then on the next batch is read while one is taken. An
/// input taken alone (rotated files are taken one after the other) gets a producer thread of
/// its own, as a single input does, and chunks as big: a pool job per batch left the pool idle
/// while a sleeping thread woke for it (13-20 % slower). Inputs whose times overlap are read by
/// pool jobs, in smaller chunks: a producer took 10-20 MB more there, and no less time (their
/// lines interleave, and the cores are busy).
pub struct ChunkReader {
    source: BatchSource,
    ready: std::collections::VecDeque<Chunk>,
    free: Vec<ChunkBuffers>,
    /// The first chunk was used up: the input is being taken.
    started: bool,
    pool: Arc<BufferPool>,
    error: Option<io::Error>,
    seen: u64,
}

impl ChunkReader {
    /// Starts reading `reader`, one of the inputs of `pool`: its first chunk now.
    pub fn new(reader: LineReader<'static>, pool: &Arc<BufferPool>) -> ChunkReader {
        let mut chunks = ChunkReader {
            source: BatchSource::Ended,
            ready: Default::default(),
            free: Vec::new(),
            started: false,
            pool: pool.clone(),
            error: None,
            seen: 0,
        };
        chunks.fetch(reader, 1, pool.first);
        chunks
    }

    /// Has a batch of `n` chunks read and made by a pool job: on the pool, unless this thread
    /// is one of the pool's (waiting here for a pool job could then leave no thread to run it).
    fn fetch(&mut self, mut reader: LineReader<'static>, n: usize, size: usize) {
        let mut free = std::mem::take(&mut self.free);
        self.pool.lend(&mut free, n);
        let patterns = self.pool.patterns.clone();
        let (tx, rx) = mpsc::sync_channel(1);
        let job = move || {
            reader.reading_up_to(size);
            let batch = Batch::read(&mut reader, n, size, &patterns, &mut free);
            let _ = tx.send(FetchedBatch {
                reader,
                free,
                batch,
            });
        };
        if rayon::current_thread_index().is_some() {
            job();
        } else {
            rayon::spawn(job);
        }
        self.source = BatchSource::Fetching(rx);
    }

    /// Starts a producer thread on `reader` when the input is `alone` (see [`ChunkReader`]);
    /// has the next batch fetched otherwise.
    fn read_on(&mut self, reader: LineReader<'static>, alone: bool) {
        // On a pool thread, a producer would wait here for pool jobs with no thread left to
        // run them.
        if !alone || rayon::current_thread_index().is_some() {
            return self.fetch(reader, self.pool.n, self.pool.small);
        }
        let n = producer_batch(self.pool.size);
        // The reader goes to the thread once it runs: if none can be started, it stays.
        let (hand_tx, hand) = mpsc::channel::<(LineReader<'static>, Vec<ChunkBuffers>)>();
        let (batch_tx, batches_rx) = mpsc::sync_channel(0);
        let (free_tx, free) = mpsc::channel();
        let pool = self.pool.clone();
        let spawned = std::thread::Builder::new().spawn(move || {
            let Ok((mut reader, mut kept)) = hand.recv() else {
                return;
            };
            // As many as it can have: two batches, and the chunk being taken.
            pool.lend(&mut kept, 2 * n + 1);
            reader.reading_up_to(pool.size);
            let mut batches = Batches {
                reader: &mut reader,
                n,
                size: pool.size,
                patterns: &pool.patterns,
                free,
                kept,
                done: false,
            };
            for b in batches.by_ref() {
                if batch_tx.send(b).is_err() {
                    break;
                }
            }
            pool.keep(batches.kept.into_iter().chain(batches.free.try_iter()));
        });
        match spawned {
            Ok(thread) => {
                let _ = hand_tx.send((reader, std::mem::take(&mut self.free)));
                self.source = BatchSource::Producer {
                    batches: batches_rx,
                    free: free_tx,
                    thread,
                };
            }
            Err(_) => self.fetch(reader, n, self.pool.small),
        }
    }

    /// The input's next chunk, `None` at its end (then [`ChunkReader::take_error`] tells
    /// whether a read failed). `alone`: no other input of the merge is being taken (each has
    /// ended, or none of its lines was taken yet).
    pub fn next_chunk(&mut self, alone: bool, progress: &dyn Progress) -> Option<Chunk> {
        while self.ready.is_empty() {
            let batch = match std::mem::replace(&mut self.source, BatchSource::Ended) {
                BatchSource::Idle(reader) => {
                    self.started = true;
                    self.read_on(reader, alone);
                    continue;
                }
                BatchSource::Fetching(rx) => rx.recv().ok().map(|fetched| {
                    self.free.extend(fetched.free);
                    self.source = BatchSource::Idle(fetched.reader);
                    fetched.batch
                }),
                BatchSource::Producer {
                    batches,
                    free,
                    thread,
                } => match batches.recv() {
                    Ok(batch) => {
                        self.source = BatchSource::Producer {
                            batches,
                            free,
                            thread,
                        };
                        Some(batch)
                    }
                    Err(_) => ended(thread),
                },
                BatchSource::Ended => None,
            };
            let Some(batch) = batch else {
                // The end: the buffers go to the inputs still read.
                self.pool.keep(std::mem::take(&mut self.free));
                return None;
            };
            report_taken(batch.taken, &mut self.seen, progress);
            self.ready.extend(batch.chunks);
            self.error = batch.error;
            if batch.last {
                self.source = BatchSource::Ended;
            }
        }
        let chunk = self.ready.pop_front();
        // A batch from a pool job: the next one is fetched while this one is taken.
        if self.started && matches!(self.source, BatchSource::Idle(_)) {
            if let BatchSource::Idle(reader) =
                std::mem::replace(&mut self.source, BatchSource::Ended)
            {
                self.fetch(reader, self.pool.n, self.pool.small);
            }
        }
        chunk
    }

    /// Gives a taken chunk's buffers back, for a later one.
    pub fn recycle(&mut self, chunk: Chunk) {
        let buffers = chunk.recycle();
        match &self.source {
            BatchSource::Producer { free, .. } => drop(free.send(buffers)),
            _ => self.free.push(buffers),
        }
    }

    /// The read error that ended the input, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Silent;

    /// Every line of `text`, as a chunk reader over it hands them out (`alone` or not), with
    /// what `look` made of the reader after each of the first three chunks.
    fn fed(text: &str, alone: bool, look: &mut dyn FnMut(&ChunkReader)) -> Vec<Vec<u8>> {
        let reader = LineReader::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())));
        let pool = BufferPool::new(100, 100, 100, &Arc::default());
        let mut input = ChunkReader::new(reader, &pool);
        let (mut lines, mut chunks) = (Vec::new(), 0);
        while let Some(chunk) = input.next_chunk(alone, &Silent) {
            lines.extend(chunk.lines().map(|l| l.raw.to_vec()));
            input.recycle(chunk);
            chunks += 1;
            if chunks <= 3 {
                look(&input);
            }
        }
        assert!(input.take_error().is_none());
        let kept = pool.free.lock().unwrap().len();
        assert!(
            input.free.is_empty() && kept > 0,
            "buffers passed on at the end"
        );
        lines
    }

    /// What a chunk reader is doing after a chunk was taken.
    fn state(input: &ChunkReader) -> &'static str {
        match input.source {
            BatchSource::Idle(_) if input.ready.is_empty() => "one chunk, nothing read ahead",
            BatchSource::Producer { .. } => "producer",
            BatchSource::Fetching(_) => "pool job",
            _ => "something else",
        }
    }

    /// A record whose fields must be unescaped is left to decode in a chunk, and its line
    /// carries the payload it is parsed again from.
    #[test]
    fn a_record_left_to_decode_keeps_its_payload() {
        let record = br#"{"level": "INFO", "message": "say \"hi\""}"#;
        let data = [&record[..], b"\n"].concat();
        let buffers = ChunkBuffers {
            len: data.len(),
            data,
            ..ChunkBuffers::default()
        };
        let chunk = Chunk::make(buffers, &Arc::default(), InputState::default());
        let lines: Vec<ParsedLine<'_>> = chunk.lines().collect();
        assert_eq!(lines.len(), 1);
        assert!(matches!(lines[0].body, LineBody::Parsed(Err(None))));
        assert_eq!(lines[0].payload, record);
    }

    /// A chunk reader holds one chunk until its lines are all taken; then it reads each batch while
    /// the one before it is taken: with a producer thread when it is taken alone, by pool jobs
    /// when not or on a pool thread. The chunks come in order.
    #[test]
    fn a_chunk_reader_waits_with_one_chunk_then_reads_ahead() {
        let text: String = (0..1000).map(|k| format!("line {k}\n")).collect();
        let expected: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        let run = |alone: bool| {
            let mut seen = Vec::new();
            let lines = fed(&text, alone, &mut |f| seen.push(state(f)));
            assert_eq!(lines.len(), expected.len(), "{seen:?}");
            assert!(lines == expected, "the lines, in order");
            seen
        };
        let first = "one chunk, nothing read ahead";
        assert_eq!(run(true), [first, "producer", "producer"]);
        assert_eq!(run(false), [first, "pool job", "pool job"]);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| run(true)), [first, "pool job", "pool job"]);
    }
}
