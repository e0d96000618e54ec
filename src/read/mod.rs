//! The ways of reading, together: one input line by line (`read_lines`), several inputs
//! merged by time (`merge`), one or several inputs in chunks parsed beside the correlating
//! thread ([`chunked`]), and `--follow` (`follow`). Each hands its lines, in order, to one
//! [`Pipeline`]: envelope → parse ([`line`](mod@line), written once for all of them) → the pod's
//! correlator. [`read_sources`] picks the way for a run; what they share is here too: values by
//! pod (`ByPod`), the time window ([`Window`]), progress.
//!
//! Below it, the stages: `input` (bytes and envelopes), `parse`, `correlate`. Above it, only the
//! wiring of a run (`crate::run`).

pub mod chunked;
mod follow;
pub mod line;
mod merge;
mod pipeline;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::correlate::{Analysis, Notice, MAX_PODS};
use crate::error::Error;
use crate::input::{open, split_lines, LineReader, Progress, Silent, Source};
use crate::parse::Ts;
use crate::settings::Settings;

pub use follow::read_following;
use merge::{merge_chunked, merge_lines};
pub use pipeline::Pipeline;

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
    #[inline]
    pub(crate) fn slot(&mut self, key: &[u8], make: impl FnOnce(&[u8]) -> T) -> usize {
        // Nearly every line belongs to the previous line's pod.
        if self.items.get(self.last).is_some_and(|(k, _)| same(k, key)) {
            return self.last;
        }
        self.other_slot(key, make)
    }

    /// [`ByPod::slot`] for a key other than the last one's.
    #[cold]
    fn other_slot(&mut self, key: &[u8], make: impl FnOnce(&[u8]) -> T) -> usize {
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

/// Reads `sources` into one pipeline, merged by time; returns the inputs read and the errors.
/// `emit` gets the pipeline's notices after each line (when it was asked for them).
pub fn read_sources(
    sources: &[Source],
    pipeline: &mut Pipeline,
    emit: &mut dyn FnMut(Notice),
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
        if p.notifies() {
            p.drain_notices(emit);
        }
    };
    let fail = |name: &str, e: std::io::Error| Error::Io {
        path: name.to_string(),
        source: e,
    };
    // Notices go out as each line is taken, chunks or not; but a chunk waits for its bytes, so
    // a stream (stdin, a pipe) that notices are asked of is read line by line.
    let at_rest = || sources.iter().all(Source::is_at_rest);
    if let (true, Some(size)) = (!pipeline.notifies() || at_rest(), chunked::chunk_bytes()) {
        // Parsed beside the correlating thread. A single input needs no ordering: it streams
        // straight through.
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
        if let Some(e) = read_lines(*file, reader, pipeline, progress, &mut after_line) {
            errors.push(fail(&names[0], e));
        }
        return (names, errors);
    }
    let failed = merge_lines(inputs, &names, pipeline, progress, &mut after_line);
    errors.extend(failed.into_iter().map(|(name, e)| fail(name, e)));
    (names, errors)
}

/// Reads all of `reader` (input `file`) one line at a time, `after_line` called after each;
/// returns the read error that stopped it, if any.
fn read_lines(
    file: usize,
    reader: &mut LineReader<'_>,
    pipeline: &mut Pipeline,
    progress: &dyn Progress,
    after_line: &mut dyn FnMut(&mut Pipeline),
) -> Option<std::io::Error> {
    let (mut seen, mut line_no) = (0, 0);
    loop {
        match reader.next_line() {
            Ok(Some(line)) => {
                line_no += 1;
                pipeline.line(file, line_no, line);
                after_line(pipeline);
                if line_no % 65536 == 0 {
                    report_taken(reader.bytes_taken(), &mut seen, progress);
                }
            }
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
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
