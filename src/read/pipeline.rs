//! The per-line stages of one stream of lines, whatever way they are read: envelope → parse →
//! the pod's correlator, with the `--since` / `--until` window, notices, and each input's own
//! stripper and parsers.

use std::mem::take;
use std::sync::Arc;
use std::time::Instant;

use super::chunked::{self, Body, Chunk, Front};
use super::{ByPod, Window};
use crate::correlate::{
    settle_timeout, Analysis, Correlator, Notice, PodSummary, Settings, StreamEnd, MAX_PODS,
};
use crate::input::envelope::{Stripped, Unwrapper};
use crate::input::{LineReader, Progress};
use crate::parse::{LineParser, Parsed, Ts};

/// One input's own state: its envelope stripper and a parser per pod.
struct FileState {
    name: Arc<str>,
    unwrapper: Unwrapper,
    parsers: ByPod<LineParser>,
    last_time: Option<Ts>,
}

/// The per-line stages for one merged stream of lines.
pub struct Pipeline {
    pub(super) settings: Arc<Settings>,
    window: Window,
    files: Vec<FileState>,
    /// Correlators per pod, in order of first appearance.
    pods: ByPod<Correlator>,
    scratch: Vec<u8>,
    decoded: Vec<u8>,
    filtered: u64,
    /// Hand out notices (finished requests, alerts) as they happen.
    pub(super) notify: bool,
    /// When the last line with a time arrived, and that time: log time "now" while following.
    last_arrival: Option<(Instant, Ts)>,
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
    pub(super) fn enter(&mut self, file: usize, chunk: Chunk) -> Chunk {
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
    pub(super) fn front(&mut self, file: usize, line_no: u64, front: &Front<'_>) {
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
    pub(super) fn read_chunked(
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
            .find_map(|(_, c)| c.analysis().workers.timeout_from_logs);
        let orphans: Vec<_> = self
            .pods
            .items
            .iter()
            .flat_map(|(_, c)| c.analysis().traffic.orphans.iter().cloned())
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
        total.input.lines += self.filtered;
        total.input.filtered += self.filtered;
        (total, notices)
    }
}
