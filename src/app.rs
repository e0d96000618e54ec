//! Wires the stages: sources → lines → envelope → parse → correlate → checks → report.
//!
//! Several inputs are merged into one stream in time order (an error log and an access log
//! kept apart are two halves of the same requests; rotated files are one log), unless
//! `--separate` asks for each to be followed on its own. Within the stream, each pod (or
//! compose service) is correlated on its own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::mem::take;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::checks::{diagnose, Context};
use crate::chunked::{self, Body, Chunk, Feed, Feeding, Front};
use crate::cli::Config;
use crate::correlate::{
    settle_timeout, Analysis, Correlator, Notice, PodSummary, Settings, StreamEnd, MAX_PODS,
};
use crate::error::Error;
use crate::input::envelope::{Stripped, Unwrapper};
use crate::input::{expand, open, split_lines, LineReader, Source};
use crate::parse::{LineParser, Parsed, Ts};
use crate::report::Report;

/// Told how far reading has got, for a progress bar (see `report::progress`).
pub trait Progress: Sync {
    /// Reading starts; `total`: the inputs' size in bytes, when known (files, not pipes).
    fn start(&self, total: Option<u64>);
    /// `bytes` more of the inputs were read.
    fn advance(&self, bytes: u64);
    fn finish(&self);
}

/// No progress to show.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Passes on the bytes an input took since the last call: `now` in all, `seen` before.
pub(crate) fn report_taken(now: u64, seen: &mut u64, progress: &dyn Progress) {
    progress.advance(now - *seen);
    *seen = now;
}

/// Which lines to analyse, by time (`--since`, `--until`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<Ts>,
    pub until: Option<Ts>,
}

impl Window {
    fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Lines of unknown time are kept only when no window is set.
    fn admits(&self, t: Option<Ts>) -> bool {
        match t {
            None => self.is_open(),
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u),
        }
    }
}

/// One input's own state: its envelope stripper and a parser per pod.
struct FileState {
    name: Arc<str>,
    unwrapper: Unwrapper,
    parsers: ByPod<LineParser>,
    last_time: Option<Ts>,
}

/// The per-line stages for one merged stream of lines.
pub struct Pipeline {
    settings: Arc<Settings>,
    window: Window,
    files: Vec<FileState>,
    /// Correlators per pod, in order of first appearance.
    pods: ByPod<Correlator>,
    scratch: Vec<u8>,
    decoded: Vec<u8>,
    filtered: u64,
    /// Hand out notices (finished requests, alerts) as they happen.
    notify: bool,
    /// When the last line with a time arrived, and that time: log time "now" while following.
    last_arrival: Option<(Instant, Ts)>,
}

/// Byte-string equality that does not call `memcmp` for the common empty key (most inputs
/// name no pod): that call showed up as 19% of a profile.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

const OTHER_PODS: &[u8] = b"(other pods)";

/// Values by pod key, in order of first appearance, with the last one used at hand.
#[derive(Clone)]
pub(crate) struct ByPod<T> {
    pub(crate) items: Vec<(Vec<u8>, T)>,
    index: FxHashMap<Vec<u8>, usize>,
    last: usize,
}

impl<T> Default for ByPod<T> {
    fn default() -> Self {
        ByPod {
            items: Vec::new(),
            index: FxHashMap::default(),
            last: 0,
        }
    }
}

impl<T> ByPod<T> {
    /// The index of `key`'s value, made with `make` the first time; past [`MAX_PODS`] keys,
    /// new ones share one value.
    pub(crate) fn slot(&mut self, key: &[u8], make: impl FnOnce(&[u8]) -> T) -> usize {
        // Nearly every line belongs to the previous line's pod.
        if self.items.get(self.last).is_some_and(|(k, _)| same(k, key)) {
            return self.last;
        }
        let key = if self.index.contains_key(key) || self.items.len() < MAX_PODS {
            key
        } else {
            OTHER_PODS
        };
        self.last = match self.index.get(key) {
            Some(&k) => k,
            None => {
                self.items.push((key.to_vec(), make(key)));
                self.index.insert(key.to_vec(), self.items.len() - 1);
                self.items.len() - 1
            }
        };
        self.last
    }

    /// The value of `key`, if it has one.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&T> {
        self.index.get(key).map(|&k| &self.items[k].1)
    }
}

impl Pipeline {
    pub fn new(settings: Arc<Settings>, window: Window) -> Pipeline {
        Pipeline {
            settings,
            window,
            files: Vec::new(),
            pods: ByPod::default(),
            scratch: Vec::new(),
            decoded: Vec::new(),
            filtered: 0,
            notify: false,
            last_arrival: None,
        }
    }

    /// Asks for notices: see [`Pipeline::take_notices`].
    pub fn with_notices(mut self) -> Pipeline {
        self.notify = true;
        self
    }

    /// Finished requests and alerts since the last call, in the order they happened per pod.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.pods
            .items
            .iter_mut()
            .flat_map(|(_, c)| c.take_notices())
            .collect()
    }

    /// Lets the correlators alert on requests open too long, by the log's clock: the last
    /// line's time plus the wall time since it arrived.
    pub fn tick(&mut self) {
        let Some((at, t)) = self.last_arrival else {
            return;
        };
        let now = Ts(t.0 + at.elapsed().as_micros() as i64);
        for (_, c) in &mut self.pods.items {
            c.tick(now);
        }
    }

    /// Registers an input; returns its index for [`Pipeline::line`].
    pub fn add_file(&mut self, name: &str) -> usize {
        self.files.push(FileState {
            name: Arc::from(name),
            unwrapper: Unwrapper::default(),
            parsers: ByPod::default(),
            last_time: None,
        });
        self.files.len() - 1
    }

    /// Runs one line of input `file` through envelope → parse → correlate.
    pub fn line(&mut self, file: usize, line_no: u64, raw: &[u8]) {
        let (mut scratch, mut decoded) = (take(&mut self.scratch), take(&mut self.decoded));
        scratch.clear();
        let f = &mut self.files[file];
        match f.unwrapper.strip(raw, &mut scratch) {
            Stripped::Partial => self.partial(file),
            Stripped::Line(u) => {
                let pod = u.source.unwrap_or(b"");
                let patterns = &self.settings.patterns;
                let k = f
                    .parsers
                    .slot(pod, |_| LineParser::with_patterns(patterns.clone()));
                let parsed = f.parsers.items[k].1.parse(&u.payload, &mut decoded);
                self.parsed(file, line_no, raw, pod, u.time, &parsed);
            }
        }
        (self.scratch, self.decoded) = (scratch, decoded);
    }

    /// Makes `chunk` (made by [`chunked`]) the next of input `file`'s lines, and returns the
    /// chunk to take them from. It was parsed from a fresh stripper and fresh parsers: right
    /// when the input's stand between records. Else its lines are parsed again, in the same
    /// buffers, from where the input's stand: only its first lines when just the parsers
    /// differed (a chunk that begins inside a traceback), all of them when the stripper did
    /// (inside a CRI partial line). Either way the input's stripper and parsers move on to
    /// where they stand after the chunk.
    fn enter(&mut self, file: usize, chunk: Chunk) -> Chunk {
        let f = &mut self.files[file];
        let patterns = &self.settings.patterns;
        let stripped_alike = f.unwrapper.is_idle()
            && f.parsers.items.len() + chunk.parsed().parsers.items.len() <= MAX_PODS;
        let chunk = if !stripped_alike {
            chunk.remake(patterns, f.unwrapper.clone(), f.parsers.clone())
        } else if f.parsers.items.iter().all(|(_, p)| p.is_idle()) {
            chunk
        } else {
            chunk.resume_parsing(patterns, f.parsers.clone())
        };
        f.unwrapper = chunk.unwrapper().clone();
        for (pod, parser) in &chunk.parsed().parsers.items {
            let k = f.parsers.slot(pod, |_| parser.clone());
            f.parsers.items[k].1 = parser.clone();
        }
        chunk
    }

    /// Line `line_no` of input `file`, from a chunk entered with [`Pipeline::enter`].
    fn front(&mut self, file: usize, line_no: u64, front: &Front<'_>) {
        let (raw, pod, time) = (front.raw, front.pod, front.time);
        match front.body {
            Body::Partial => self.partial(file),
            Body::Parsed(ref p) => self.parsed(file, line_no, raw, pod, time, p),
            Body::Reparse(payload, _) => {
                let mut decoded = take(&mut self.decoded);
                let mut parser = LineParser::with_patterns(self.settings.patterns.clone());
                let p = parser.parse(payload, &mut decoded);
                self.parsed(file, line_no, raw, pod, time, &p);
                self.decoded = decoded;
            }
        }
    }

    /// Takes all the lines of a chunk of input `file`, in order; gives the chunk back.
    fn chunk(
        &mut self,
        file: usize,
        line_no: &mut u64,
        chunk: Chunk,
        after_line: &mut dyn FnMut(&mut Pipeline),
    ) -> Chunk {
        let chunk = self.enter(file, chunk);
        for front in &chunk.parsed().fronts {
            *line_no += 1;
            self.front(file, *line_no, front);
            if self.notify {
                after_line(self);
            }
        }
        chunk
    }

    /// Reads all of `reader` (input `file`) in chunks of about `size` bytes parsed on every
    /// core, `after_line` called after each line when notices are asked for; returns the read
    /// error that stopped it, if any.
    fn read_chunked(
        &mut self,
        file: usize,
        reader: &mut LineReader<'_>,
        size: usize,
        progress: &dyn Progress,
        after_line: &mut dyn FnMut(&mut Pipeline),
    ) -> Option<std::io::Error> {
        let patterns = self.settings.patterns.clone();
        let mut line_no = 0;
        let mut consume = |c: Chunk| self.chunk(file, &mut line_no, c, after_line);
        chunked::pump(reader, size, &patterns, &mut consume, progress)
    }

    /// Counts a CRI partial record of input `file` (its text waits for the rest of the line).
    fn partial(&mut self, file: usize) {
        let k = self.correlator(file, b"");
        self.pods.items[k].1.count_partial();
    }

    /// The correlator of `pod`, made the first time it is seen (in input `file`).
    fn correlator(&mut self, file: usize, pod: &[u8]) -> usize {
        let (name, settings, notify) = (&self.files[file].name, &self.settings, self.notify);
        self.pods.slot(pod, |key| {
            let mut c = Correlator::new(name.clone(), settings.clone());
            if notify {
                let name = (!key.is_empty()).then(|| Arc::from(String::from_utf8_lossy(key)));
                c.enable_notices(name);
            }
            c
        })
    }

    /// The back half of a line: the parsed line of `pod`, with the time its envelope gave, into
    /// the pod's correlator (unless `--since` / `--until` leave it out).
    fn parsed(
        &mut self,
        file: usize,
        line_no: u64,
        raw: &[u8],
        pod: &[u8],
        envelope_time: Option<Ts>,
        parsed: &Parsed<'_>,
    ) {
        let k = self.correlator(file, pod);
        let f = &mut self.files[file];
        let time = envelope_time.or(parsed.time);
        f.last_time = time.or(f.last_time);
        if let (Some(t), true) = (time, self.notify) {
            self.last_arrival = Some((Instant::now(), t));
        }
        // Continuation lines (tracebacks) take the time of the record above them.
        if !self.window.admits(f.last_time) {
            self.filtered += 1;
            return;
        }
        let correlator = &mut self.pods.items[k].1;
        correlator.feed(&f.name, line_no, raw, time, envelope_time.is_some(), parsed);
    }

    /// Ends every stream; returns the analysis and the last notices (requests still open).
    /// Facts of the whole input (its end, the timeout, whether ends are logged at all) are
    /// settled first, so that every pod judges its open requests alike.
    pub fn finish(mut self) -> (Analysis, Vec<Notice>) {
        for (_, c) in &mut self.pods.items {
            c.settle_waiting();
        }
        let mut total = Analysis::default();
        let mut notices = Vec::new();
        let named = self.pods.items.iter().any(|(k, _)| !k.is_empty());
        let logs = self
            .pods
            .items
            .iter()
            .find_map(|(_, c)| c.analysis().timeout_from_logs);
        let orphans: Vec<_> = self
            .pods
            .items
            .iter()
            .flat_map(|(_, c)| c.analysis().orphans.iter().cloned())
            .collect();
        let end = StreamEnd {
            now: self
                .pods
                .items
                .iter()
                .filter_map(|(_, c)| c.last_time())
                .max(),
            timeout: settle_timeout(self.settings.timeout, logs, &orphans).0,
            ends_logged: self.pods.items.iter().any(|(_, c)| c.ends_logged()),
        };
        for (pod, mut c) in self.pods.items {
            let mut a = c.finish_stream_keep(&end);
            notices.extend(c.take_notices());
            if named {
                a.pods
                    .push(PodSummary::of(&String::from_utf8_lossy(&pod), &a));
            }
            total.merge(a);
        }
        total.lines += self.filtered;
        total.filtered += self.filtered;
        (total, notices)
    }
}

/// Analyses bytes already in memory, as if they were a file called `name`, as a run does.
pub fn analyze_bytes(name: &str, data: &[u8], settings: &Arc<Settings>) -> Analysis {
    analyze_bytes_in(name, data, settings, chunked::chunk_bytes())
}

/// As [`analyze_bytes`], in chunks of about `chunk` bytes parsed on every core, or (`None`)
/// one line at a time: the two give the same analysis (the fuzz target checks it).
pub fn analyze_bytes_in(
    name: &str,
    data: &[u8],
    settings: &Arc<Settings>,
    chunk: Option<usize>,
) -> Analysis {
    let mut p = Pipeline::new(settings.clone(), Window::default());
    let file = p.add_file(name);
    match chunk {
        Some(size) => {
            let mut reader = LineReader::new(Box::new(data));
            // Reading memory does not fail.
            let _ = p.read_chunked(file, &mut reader, size, &Silent, &mut |_| {});
        }
        None => {
            let mut line_no = 0;
            split_lines(data, &mut |raw| {
                line_no += 1;
                p.line(file, line_no, raw);
            });
        }
    }
    p.finish().0
}

/// As [`analyze_bytes_in`], for several inputs merged by time: their lines are taken in time
/// order, from chunks of about `chunk` bytes parsed on every core, or (`None`) one line at a
/// time. The two give the same analysis (the `merge` fuzz target checks it).
pub fn analyze_merged_bytes_in(
    inputs: &[(&str, &[u8])],
    settings: &Arc<Settings>,
    chunk: Option<usize>,
) -> Analysis {
    let mut p = Pipeline::new(settings.clone(), Window::default());
    let names: Vec<String> = inputs.iter().map(|(name, _)| name.to_string()).collect();
    let readers: Vec<(usize, LineReader<'static>)> = inputs
        .iter()
        .map(|(name, data)| {
            let data = std::io::Cursor::new(data.to_vec());
            (p.add_file(name), LineReader::new(Box::new(data)))
        })
        .collect();
    // Reading memory does not fail.
    match chunk {
        Some(size) => drop(merge_chunked(
            readers,
            &names,
            &mut p,
            size,
            &Silent,
            &mut |_| {},
        )),
        None => drop(merge_lines(readers, &names, &mut p, &Silent, &mut |_| {})),
    }
    p.finish().0
}

/// Bytes that the inputs of a merge share: all are open at once, each holding a read buffer
/// and a first chunk until the merge reaches it, and inputs whose times overlap are taken at
/// once, each with a batch in flight. So these get smaller as inputs get more, down to a
/// floor: 32 KiB for the chunks of pool jobs (smaller ones cost more per line), 4 KiB for a
/// first chunk and a read. An input taken alone gets a producer and full chunks (see [`Feed`]).
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
    feed: Feed,
    chunk: Option<Chunk>,
    at: usize,
    line_no: u64,
    order: i64,
}

impl Head<'_> {
    fn front(&self) -> Option<&Front<'_>> {
        self.chunk.as_ref()?.parsed().fronts.get(self.at)
    }

    /// Moves to the next line, entering the next chunk into `pipeline` when this one is done
    /// (the input's lines before it were all taken), and finds its time; false at the end.
    /// `alone`: no other input is being taken (see [`Feed::next_chunk`]).
    fn advance(&mut self, pipeline: &mut Pipeline, alone: bool, progress: &dyn Progress) -> bool {
        loop {
            if let Some(front) = self.front() {
                let time = front.time.or(match front.body {
                    Body::Parsed(ref p) => p.time,
                    Body::Reparse(_, time) => time,
                    Body::Partial => None,
                });
                // Lines without a time keep their place after the line above them.
                if let Some(t) = time {
                    self.order = t.0;
                }
                return true;
            }
            if let Some(done) = self.chunk.take() {
                self.feed.recycle(done);
            }
            let Some(next) = self.feed.next_chunk(alone, progress) else {
                return false;
            };
            self.chunk = Some(pipeline.enter(self.file, next));
            self.at = 0;
        }
    }
}

/// One input being read line by line, with its next line and the time it sorts by.
struct Cursor {
    file: usize,
    reader: LineReader<'static>,
    line: Vec<u8>,
    line_no: u64,
    order: i64,
    /// A stripper and parser used only to find each line's time for the merge.
    unwrapper: Unwrapper,
    parser: LineParser,
    scratch: (Vec<u8>, Vec<u8>),
}

impl Cursor {
    fn new(file: usize, reader: LineReader<'static>) -> Cursor {
        Cursor {
            file,
            reader,
            line: Vec::new(),
            line_no: 0,
            order: i64::MIN,
            unwrapper: Unwrapper::default(),
            parser: LineParser::default(),
            scratch: (Vec::new(), Vec::new()),
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
        let (s1, s2) = (&mut self.scratch.0, &mut self.scratch.1);
        s1.clear();
        let time = match self.unwrapper.strip(&self.line, s1) {
            Stripped::Line(u) => u.time.or_else(|| self.parser.parse(&u.payload, s2).time),
            Stripped::Partial => None,
        };
        // Lines without a time keep their place after the line above them.
        if let Some(t) = time {
            self.order = t.0;
        }
        Ok(true)
    }
}

/// Reads `sources` into one pipeline, merged by time; returns the inputs read and the errors.
/// `emit` gets the pipeline's notices after each line (when it was asked for them).
fn read_merged(
    sources: &[Source],
    pipeline: &mut Pipeline,
    emit: &mut dyn FnMut(&Notice),
    progress: &dyn Progress,
) -> (Vec<String>, Vec<Error>) {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    let mut inputs: Vec<(usize, LineReader<'static>)> = Vec::new();
    for s in sources {
        match open(s) {
            Ok(reader) => {
                names.push(s.name());
                inputs.push((pipeline.add_file(&s.name()), reader));
            }
            Err(e) => errors.push(e),
        }
    }
    let mut after_line = |p: &mut Pipeline| {
        if p.notify {
            for n in p.take_notices() {
                emit(&n);
            }
        }
    };
    let fail = |name: &str, e: std::io::Error| Error::Io {
        path: name.to_string(),
        source: e,
    };
    // Notices go out as each line is taken, chunks or not; but a chunk waits for its bytes, so
    // a stream (stdin, a pipe) that notices are asked of is read line by line.
    let at_rest = || sources.iter().all(Source::is_at_rest);
    if let (true, Some(size)) = (!pipeline.notify || at_rest(), chunked::chunk_bytes()) {
        // Parsed on every core. A single input needs no ordering: it streams straight through.
        if let [(file, reader)] = inputs.as_mut_slice() {
            if let Some(e) = pipeline.read_chunked(*file, reader, size, progress, &mut after_line) {
                errors.push(fail(&names[0], e));
            }
        } else {
            let failed = merge_chunked(inputs, &names, pipeline, size, progress, &mut after_line);
            errors.extend(failed.into_iter().map(|(name, e)| fail(name, e)));
        }
        return (names, errors);
    }
    // One line at a time: each line's notices are handed out as it is read (or chunks are off).
    if let [(file, reader)] = inputs.as_mut_slice() {
        let (mut seen, mut line_no) = (0, 0);
        loop {
            match reader.next_line() {
                Ok(Some(line)) => {
                    line_no += 1;
                    pipeline.line(*file, line_no, line);
                    after_line(pipeline);
                    if line_no % 65536 == 0 {
                        report_taken(reader.bytes_taken(), &mut seen, progress);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    errors.push(fail(&names[0], e));
                    break;
                }
            }
        }
        return (names, errors);
    }
    let failed = merge_lines(inputs, &names, pipeline, progress, &mut after_line);
    errors.extend(failed.into_iter().map(|(name, e)| fail(name, e)));
    (names, errors)
}

/// Several inputs, one line at a time in time order, `after_line` called after each; returns
/// the read errors that ended inputs early.
fn merge_lines<'n>(
    inputs: Vec<(usize, LineReader<'static>)>,
    names: &'n [String],
    pipeline: &mut Pipeline,
    progress: &dyn Progress,
    after_line: &mut dyn FnMut(&mut Pipeline),
) -> Vec<(&'n str, std::io::Error)> {
    let mut errors = Vec::new();
    let size = merged_share(inputs.len(), MIN_FIRST_CHUNK);
    let mut cursors: Vec<Cursor> = inputs
        .into_iter()
        .map(|(file, reader)| Cursor::new(file, reader.reading_at_most(size)))
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
fn merge_chunked<'n>(
    inputs: Vec<(usize, LineReader<'static>)>,
    names: &'n [String],
    pipeline: &mut Pipeline,
    size: usize,
    progress: &dyn Progress,
    after_line: &mut dyn FnMut(&mut Pipeline),
) -> Vec<(&'n str, std::io::Error)> {
    let small = size.min(merged_share(inputs.len(), MIN_MERGED_CHUNK));
    let first = small.min(merged_share(inputs.len(), MIN_FIRST_CHUNK));
    let feeding = Feeding::new(first, small, size, &pipeline.settings.patterns);
    let mut heads: Vec<Head> = inputs
        .into_iter()
        .zip(names)
        .map(|((file, reader), name)| Head {
            file,
            name,
            feed: Feed::new(reader.reading_at_most(first), &feeding),
            chunk: None,
            at: 0,
            line_no: 0,
            order: i64::MIN,
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (k, h) in heads.iter_mut().enumerate() {
        if h.advance(pipeline, true, progress) {
            heap.push(Reverse((h.order, k)));
        }
    }
    // Inputs with lines taken that have not ended.
    let mut taken = 0;
    while let Some(Reverse((_, k))) = heap.pop() {
        let h = &mut heads[k];
        h.line_no += 1;
        if h.line_no == 1 {
            taken += 1;
        }
        if let Some(front) = h.front() {
            pipeline.front(h.file, h.line_no, front);
            if pipeline.notify {
                after_line(pipeline);
            }
        }
        h.at += 1;
        if h.advance(pipeline, taken == 1, progress) {
            heap.push(Reverse((h.order, k)));
        } else {
            taken -= 1;
        }
    }
    heads
        .iter_mut()
        .filter_map(|h| Some((h.name, h.feed.take_error()?)))
        .collect()
}

enum Arrival {
    Line(usize, Vec<u8>),
    /// The input's file was rotated: its lines are counted from 1 again, in the new file.
    Reopened(usize),
    Failed(Error),
}

/// `--follow`: reads every source as it grows (a pipe until it closes, a file like `tail -F`:
/// when it is rotated, what the old file still gets is read, then the new one from its start),
/// in arrival order, ticking once a second so a request that hangs is told about even when no
/// line comes; stops at the end of all inputs or when `stop` is set (Ctrl-C).
fn follow(
    sources: &[Source],
    pipeline: &mut Pipeline,
    emit: &mut dyn FnMut(&Notice),
    stop: &AtomicBool,
) -> (Vec<String>, Vec<Error>) {
    let (tx, rx) = mpsc::sync_channel::<Arrival>(4096);
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for s in sources {
        let mut reader = match open(s) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        names.push(s.name());
        let file = pipeline.add_file(&s.name());
        let tail = match s {
            Source::Path(p) if p.is_file() => Some(p.clone()),
            _ => None,
        };
        if tail.is_some() {
            reader = reader.following();
        }
        let tx = tx.clone();
        let source = s.clone();
        // The file was found rotated: once the old one is read to its end, the new one is opened.
        let mut stale = false;
        std::thread::spawn(move || loop {
            match reader.next_line() {
                Ok(Some(line)) => {
                    if tx.send(Arrival::Line(file, line.to_vec())).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    let Some(path) = &tail else { return };
                    if std::mem::take(&mut stale) {
                        // The old file is read to its end: on to the new one (if it can't be
                        // opened yet, it is looked for again at the next end).
                        if let Ok(new) = open(&source) {
                            reader = new.following();
                            if tx.send(Arrival::Reopened(file)).is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                    stale = reader.is_stale(path);
                    reader.resume();
                }
                Err(e) => {
                    let _ = tx.send(Arrival::Failed(Error::Io {
                        path: source.name(),
                        source: e,
                    }));
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut line_nos = vec![0u64; names.len()];
    let mut last_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Arrival::Line(file, line)) => {
                line_nos[file] += 1;
                pipeline.line(file, line_nos[file], &line);
            }
            Ok(Arrival::Reopened(file)) => line_nos[file] = 0,
            Ok(Arrival::Failed(e)) => errors.push(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            pipeline.tick();
            last_tick = Instant::now();
        }
        for n in pipeline.take_notices() {
            emit(&n);
        }
    }
    (names, errors)
}

/// What a run produced: the report, and the inputs that could not be read.
pub struct Outcome {
    pub report: Report,
    pub errors: Vec<Error>,
}

/// Runs the analysis. `emit` receives notices (finished requests, alerts) as they happen when
/// `config.notices` asks for them; `stop` ends `--follow` early (Ctrl-C).
/// `progress` hears how much of the inputs was read (not while following).
pub fn run(
    config: &Config,
    emit: &mut dyn FnMut(&Notice),
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Outcome {
    let settings = Arc::new(Settings {
        timeout: config.timeout,
        health_paths: config.health_paths.clone(),
        probe_agents: config.probe_agents.clone(),
        internal_nets: config.internal_nets.clone(),
        patterns: config.patterns.clone(),
        public_hosts: config
            .public_hosts
            .iter()
            .map(|h| crate::checks::domain_of(h))
            .collect(),
    });
    let (sources, mut errors) = expand(&config.sources);
    if !config.follow {
        let sizes: Option<Vec<u64>> = sources
            .iter()
            .map(|s| match s {
                Source::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                Source::Stdin => None,
            })
            .collect();
        progress.start(sizes.map(|s| s.iter().sum()));
    }
    let window = Window {
        since: config.since,
        until: config.until,
    };
    let new_pipeline = || {
        let p = Pipeline::new(settings.clone(), window);
        if config.notices {
            p.with_notices()
        } else {
            p
        }
    };
    let (total, files) = if config.separate && !config.notices {
        // Inputs from different servers: each followed on its own, in parallel.
        let results: Vec<(Analysis, Vec<String>, Vec<Error>)> = sources
            .par_iter()
            .map(|s| {
                let mut p = new_pipeline();
                let (names, errs) =
                    read_merged(std::slice::from_ref(s), &mut p, &mut |_| {}, progress);
                (p.finish().0, names, errs)
            })
            .collect();
        let mut total = Analysis::default();
        let mut files = Vec::new();
        for (a, names, errs) in results {
            total.merge(a);
            files.extend(names);
            errors.extend(errs);
        }
        (total, files)
    } else if config.separate {
        let mut total = Analysis::default();
        let mut files = Vec::new();
        for s in &sources {
            let mut p = new_pipeline();
            // --follow conflicts with --separate: read each input to its end.
            let (names, errs) = read_merged(std::slice::from_ref(s), &mut p, emit, progress);
            let (a, last) = p.finish();
            last.iter().for_each(&mut *emit);
            total.merge(a);
            files.extend(names);
            errors.extend(errs);
        }
        (total, files)
    } else {
        let mut p = new_pipeline();
        let (files, errs) = if config.follow {
            follow(&sources, &mut p, emit, stop)
        } else {
            read_merged(&sources, &mut p, emit, progress)
        };
        errors.extend(errs);
        let (a, last) = p.finish();
        last.iter().for_each(&mut *emit);
        (a, files)
    };
    progress.finish();
    let (timeout, source) = settle_timeout(config.timeout, total.timeout_from_logs, &total.orphans);
    let ctx = Context {
        public_hosts: &config.public_hosts,
        timeout,
        timeout_source: source,
    };
    let diagnosis = diagnose(&total, &ctx);
    let messages = errors.iter().map(|e| e.to_string()).collect();
    let report = Report::build(
        &total,
        diagnosis,
        files,
        messages,
        (timeout, source.to_string()),
    );
    Outcome { report, errors }
}
