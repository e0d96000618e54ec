//! Wires the stages for one run: sources → read (envelope, parse, correlate) → checks →
//! report. The ways of reading live in [`crate::read`]; this file only picks the inputs, the
//! settings and the progress bar, and builds the report from what was read.
//!
//! Several inputs are merged into one stream in time order, unless `--separate` asks for each
//! to be followed on its own (then in parallel, their analyses merged).

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::checks::diagnose;
use crate::cli::{FormatArg, Options};
use crate::correlate::{settle_timeout, Analysis, Notice, PodSummary};
use crate::error::Error;
use crate::input::{expand, Progress, Source};
use crate::read::{read_following, read_sources, Pipeline, Window};
use crate::report::live::NoticeWriter;
use crate::report::metrics::Flavor;
use crate::report::serve::Exporter;
use crate::report::{output, progress, Format, Report};

/// The report's format, as the command line asked for it.
pub fn report_format(options: &Options) -> Format {
    match options.format {
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => Format::Html,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Openmetrics => Format::Metrics(Flavor::OpenMetrics),
        FormatArg::Prometheus => Format::Metrics(Flavor::Prometheus),
        FormatArg::Table => output::table_for(options.output.as_deref(), options.color),
    }
}

/// A run as the command line makes it: notices written as they happen ([`NoticeWriter`]) and
/// a progress bar on stderr when it is a terminal. `stop` ends `--follow` (Ctrl-C); it is set
/// here when the notices' reader goes away.
pub fn run_from_command_line(options: &Options, stop: &AtomicBool) -> RunOutcome {
    let stream = options.follow || !options.sources.iter().all(Source::is_at_rest);
    let mut notices = NoticeWriter::new((!options.quiet).then(|| report_format(options)), stream);
    let mut emit = |n: Notice| {
        if notices.write(&n).is_err() {
            // The reader went away: stop reading too.
            stop.store(true, Ordering::SeqCst);
        }
    };
    // A bar on stderr for a long read, on a terminal only (never in a pipe or under -q).
    let bar = progress::Bar::new(!options.quiet && !options.follow && io::stderr().is_terminal());
    let outcome = run(options, &mut emit, stop, &bar);
    notices.flush();
    outcome
}

/// What a run produced: the report, and the inputs that could not be read.
pub struct RunOutcome {
    pub report: Report,
    pub errors: Vec<Error>,
}

/// Runs the analysis: sources → read (envelope, parse, correlate) → checks → report. `emit`
/// receives notices (finished requests, alerts) as they happen when `options.notices` asks for
/// them; `stop` ends `--follow` early (Ctrl-C). `progress` hears how much of the inputs was
/// read (not while following).
pub fn run(
    options: &Options,
    emit: &mut dyn FnMut(Notice),
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> RunOutcome {
    let (mut sources, mut errors) = expand(&options.sources);
    let exporter = match options.metrics_listen {
        Some(addr) => match Exporter::start(addr, !options.quiet) {
            Ok(x) => Some(x),
            Err(source) => {
                let addr = addr.to_string();
                errors.push(Error::Listen { addr, source });
                // Nothing is read: a sidecar without its metrics should fail where it is seen.
                sources.clear();
                None
            }
        },
        None => None,
    };
    if !options.follow {
        let sizes: Option<Vec<u64>> = sources
            .iter()
            .map(|s| match s {
                Source::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                Source::Stdin => None,
            })
            .collect();
        progress.start(sizes.map(|s| s.iter().sum()));
    }
    let names: Vec<String> = sources.iter().map(Source::name).collect();
    let mut publish = |p: &Pipeline| {
        if let Some(x) = &exporter {
            x.publish(&report_of(
                &p.snapshot(),
                options,
                names.clone(),
                Vec::new(),
            ));
        }
    };
    let reading = (
        exporter.is_some(),
        &mut publish as &mut dyn FnMut(&Pipeline),
    );
    let (total, files, read_errors) = read_all(options, &sources, emit, stop, progress, reading);
    errors.extend(read_errors);
    progress.finish();
    let messages = errors.iter().map(|e| e.to_string()).collect();
    let report = report_of(&total, options, files, messages);
    if let Some(x) = &exporter {
        x.publish(&report);
        // Nothing could be read (a log that isn't there): an error now, as without metrics.
        if !report.input.files.is_empty() {
            x.serve_until(stop, !options.quiet);
        }
    }
    RunOutcome { report, errors }
}

/// The report on `total`: the timeout settled, the checks run.
fn report_of(
    total: &Analysis,
    options: &Options,
    files: Vec<String>,
    messages: Vec<String>,
) -> Report {
    let timeout = settle_timeout(
        options.settings.timeout,
        total.workers.timeout_from_logs,
        &total.traffic.orphans,
    );
    let diagnosis = diagnose(total, &options.settings, timeout);
    Report::build(
        total,
        diagnosis,
        files,
        messages,
        (timeout.seconds, timeout.source.to_string()),
    )
}

/// An input read on its own (`--separate`: another server's logs) keeps its share of the
/// figures apart, like a pod: named by the input, unless its lines name pods themselves or it
/// holds only an edge's lines.
fn apart(mut a: Analysis, source: &Source) -> Analysis {
    let edge_only = a.input.edge > 0 && a.traffic.total == 0;
    if a.pods.is_empty() && !edge_only {
        a.pods.push(PodSummary::of(&source.name(), &a));
    }
    a
}

/// Reads `sources` as the command line asks: merged into one stream (or followed), or each on
/// its own with `--separate`, their analyses merged. Returns the analysis, the inputs read and
/// the errors. `(live, publish)`: while following, snapshots are wanted (`live`) and handed to
/// `publish` at most once a second.
fn read_all(
    options: &Options,
    sources: &[Source],
    emit: &mut dyn FnMut(Notice),
    stop: &AtomicBool,
    progress: &dyn Progress,
    (live, publish): (bool, &mut dyn FnMut(&Pipeline)),
) -> (Analysis, Vec<String>, Vec<Error>) {
    let settings = Arc::new(options.settings.clone());
    let window = Window {
        since: options.since,
        until: options.until,
    };
    let new_pipeline = || {
        let p = Pipeline::new(settings.clone(), window);
        if options.notices {
            p.with_notices()
        } else {
            p
        }
    };
    let mut errors = Vec::new();
    if options.separate && !options.notices {
        // Inputs from different servers: each followed on its own, in parallel.
        let results: Vec<(Analysis, Vec<String>, Vec<Error>)> = sources
            .par_iter()
            .map(|s| {
                let mut p = new_pipeline();
                let (names, errs) =
                    read_sources(std::slice::from_ref(s), &mut p, &mut |_| {}, progress);
                (apart(p.finish().0, s), names, errs)
            })
            .collect();
        let mut total = Analysis::default();
        let mut files = Vec::new();
        for (a, names, errs) in results {
            total.merge(a);
            files.extend(names);
            errors.extend(errs);
        }
        (total, files, errors)
    } else if options.separate {
        let mut total = Analysis::default();
        let mut files = Vec::new();
        for s in sources {
            let mut p = new_pipeline();
            // --follow conflicts with --separate: read each input to its end.
            let (names, errs) = read_sources(std::slice::from_ref(s), &mut p, emit, progress);
            let (a, last) = p.finish();
            last.into_iter().for_each(&mut *emit);
            total.merge(apart(a, s));
            files.extend(names);
            errors.extend(errs);
        }
        (total, files, errors)
    } else {
        let mut p = new_pipeline();
        if live || options.follow {
            p = p.with_clock();
        }
        let (files, errs) = if options.follow {
            read_following(sources, &mut p, emit, stop, publish)
        } else {
            read_sources(sources, &mut p, emit, progress)
        };
        let (a, last) = p.finish();
        last.into_iter().for_each(&mut *emit);
        (a, files, errs)
    }
}
