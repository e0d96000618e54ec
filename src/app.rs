//! Wires the stages: sources → lines → envelope → parse → correlate → diagnose → report.

use std::sync::Arc;

use rayon::prelude::*;

use crate::cli::Config;
use crate::correlate::{Analysis, Cause, Correlator, Settings};
use crate::diagnose::{diagnose, Context};
use crate::error::Error;
use crate::input::envelope::{Stripped, Unwrapper};
use crate::input::{for_each_line, split_lines, Source};
use crate::parse::LineParser;
use crate::report::Report;

/// Reads one source: each pod (or compose service) in it is correlated on its own.
pub fn analyze_source(source: &Source, settings: &Arc<Settings>) -> Result<Analysis, Error> {
    analyze_lines(&source.name(), settings, |f| for_each_line(source, f))
}

/// Analyses bytes already in memory, as if they were a file called `name`.
pub fn analyze_bytes(name: &str, data: &[u8], settings: &Arc<Settings>) -> Analysis {
    let fed = analyze_lines(name, settings, |f| {
        split_lines(data, f);
        Ok(())
    });
    fed.expect("reading memory cannot fail")
}

/// Runs every line `feed` produces through envelope → parse → correlate.
fn analyze_lines(
    name: &str,
    settings: &Arc<Settings>,
    feed: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<(), Error>,
) -> Result<Analysis, Error> {
    let name: Arc<str> = Arc::from(name);
    let mut unwrapper = Unwrapper::default();
    // Streams in order of first appearance; nearly every line belongs to the previous line's.
    let mut streams: Vec<(Vec<u8>, LineParser, Correlator)> = Vec::new();
    let mut last = 0usize;
    let mut line_no = 0u64;
    let mut scratch = Vec::new();
    let mut decoded = Vec::new();
    let mut stream_of = |key: &[u8], streams: &mut Vec<(Vec<u8>, LineParser, Correlator)>| {
        let same = |k: &[u8]| k.len() == key.len() && (key.is_empty() || k == key);
        if !streams.get(last).is_some_and(|s| same(&s.0)) {
            last = match streams.iter().position(|s| same(&s.0)) {
                Some(k) => k,
                None => {
                    let c = Correlator::new(name.clone(), settings.clone());
                    streams.push((
                        key.to_vec(),
                        LineParser::with_patterns(settings.patterns.clone()),
                        c,
                    ));
                    streams.len() - 1
                }
            };
        }
        last
    };
    let result = feed(&mut |raw| {
        line_no += 1;
        scratch.clear();
        match unwrapper.strip(raw, &mut scratch) {
            Stripped::Partial => {
                let k = stream_of(b"", &mut streams);
                streams[k].2.count_partial();
            }
            Stripped::Line(u) => {
                let k = stream_of(u.source.unwrap_or(b""), &mut streams);
                let (_, parser, correlator) = &mut streams[k];
                let parsed = parser.parse(&u.payload, &mut decoded);
                correlator.feed(
                    line_no,
                    raw,
                    u.time.or(parsed.time),
                    u.time.is_some(),
                    &parsed,
                );
            }
        }
    });
    let mut total = Analysis::default();
    for (_, _, c) in streams {
        total.merge(c.finish_stream());
    }
    result.map(|()| total)
}

/// What a run produced: the report, and the inputs that could not be read.
pub struct Outcome {
    pub report: Report,
    pub errors: Vec<Error>,
}

pub fn run(config: &Config) -> Outcome {
    let settings = Arc::new(Settings {
        timeout: config.timeout,
        health_paths: config.health_paths.clone(),
        probe_agents: config.probe_agents.clone(),
        internal_nets: config.internal_nets.clone(),
        patterns: config.patterns.clone(),
    });
    let results: Vec<Result<Analysis, Error>> = config
        .sources
        .par_iter()
        .map(|s| analyze_source(s, &settings))
        .collect();
    let mut total = Analysis::default();
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for (source, r) in config.sources.iter().zip(results) {
        match r {
            Ok(a) => {
                files.push(source.name());
                total.merge(a);
            }
            Err(e) => errors.push(e),
        }
    }
    // The shortest time a request was open before its WORKER TIMEOUT bounds the setting.
    let inferred = total
        .orphans
        .iter()
        .filter(|o| o.cause == Cause::WorkerTimeout)
        .filter_map(|o| o.open_seconds)
        .reduce(f64::min)
        .map(|s| s.floor().max(1.0));
    let (timeout, source) = match (config.timeout, total.timeout_from_logs, inferred) {
        (Some(t), _, _) => (t, "--timeout"),
        (None, Some(t), _) => (t, "gunicorn's timeout in the logs"),
        (None, None, Some(t)) => (t, "inferred from the WORKER TIMEOUT lines"),
        (None, None, None) => (30.0, "default"),
    };
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
