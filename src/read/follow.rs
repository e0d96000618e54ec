//! `--follow`: every input read as it grows, its lines taken in arrival order, notices handed
//! out as they happen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Pipeline;
use crate::correlate::Notice;
use crate::error::Error;
use crate::input::{open, Source};

/// How often `publish` is handed the pipeline at most.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

enum Arrival {
    Line(usize, Vec<u8>),
    /// The input's file was rotated: its lines are counted from 1 again, in the new file.
    Reopened(usize),
    Failed(Error),
}

/// `--follow`: reads every source as it grows (a pipe until it closes, a file like `tail -F`:
/// when it is rotated, what the old file still gets is read, then the new one from its start),
/// in arrival order, ticking once a second so a request that hangs is told about even when no
/// line comes; stops at the end of all inputs or when `stop` is set (Ctrl-C). `publish` is
/// handed the pipeline at most once a second, lines or not (`--metrics-listen` takes its
/// snapshot there), and less often when it takes over a tenth of that.
pub fn read_following(
    sources: &[Source],
    pipeline: &mut Pipeline,
    emit: &mut dyn FnMut(Notice),
    stop: &AtomicBool,
    publish: &mut dyn FnMut(&Pipeline),
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
    let (mut last_publish, mut publish_every) = (Instant::now(), PUBLISH_EVERY);
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
        if last_publish.elapsed() >= publish_every {
            // A snapshot copies every pod's analysis (about 0.15 ms a pod in a debug build):
            // reading is held for at most a tenth of the time, however many pods.
            let started = Instant::now();
            publish(pipeline);
            publish_every = PUBLISH_EVERY.max(started.elapsed() * 10);
            last_publish = Instant::now();
        }
        pipeline.drain_notices(emit);
    }
    (names, errors)
}
