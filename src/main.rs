//! Thin entry point: flags → run → report → exit status (0 ok, 1 a check failed, 2 error).

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, Parser};
use reqtrail::cli::{Args, Command, FormatArg};
use reqtrail::correlate::Notice;
use reqtrail::input::Source;
use reqtrail::report::escape::for_terminal;
use reqtrail::report::{self, Format};
use reqtrail::report::{live, progress};

/// Request records, chunk buffers and evidence lines are small allocations made by the million;
/// mimalloc makes the whole run ~13% faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    open_as_many_files_as_allowed();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Some(command) = &args.command {
        return print_extra(command);
    }
    if args.files.is_empty() && io::stdin().is_terminal() {
        // Nothing named and nothing piped in: waiting for logs to be typed looks like a hang.
        eprintln!(
            "reqtrail: no input: name log files, or pipe logs in \
             (`docker logs web 2>&1 | reqtrail`); `reqtrail -` reads what is typed"
        );
        return ExitCode::from(2);
    }
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            // Line by line: a parse error's own lines (TOML, regex) stay lines.
            let lines: Vec<_> = e.lines().map(for_terminal).collect();
            eprintln!("reqtrail: {}", lines.join("\n"));
            return ExitCode::from(2);
        }
    };
    static STOP: AtomicBool = AtomicBool::new(false);
    if config.follow {
        // First Ctrl-C: stop reading and print the checklist; a second one: leave now.
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let quiet = config.quiet;
    let ndjson = config.format == FormatArg::Ndjson;
    let as_text = config.format == FormatArg::Table;
    // Notices of inputs that are all there go out in blocks (a write per line was half the
    // time of `--format ndjson`); those of a stream, line by line as they happen.
    let streams = config.follow || !config.sources.iter().all(Source::is_at_rest);
    let mut notices = io::BufWriter::with_capacity(64 << 10, io::stdout());
    let mut emit = |n: &Notice| {
        let written = if quiet {
            Ok(())
        } else if ndjson {
            live::write_ndjson(n, &mut notices, streams)
        } else if as_text {
            live::write_alert_line(n, &mut io::stdout().lock())
        } else {
            // --format json keeps stdout one document: alerts go to stderr.
            live::write_alert_line(n, &mut io::stderr().lock())
        };
        if written.is_err() {
            // The reader went away: stop reading too.
            STOP.store(true, Ordering::SeqCst);
        }
    };
    // A bar on stderr for a long read, on a terminal only (never in a pipe or under -q).
    let bar = progress::Bar::new(!quiet && !config.follow && io::stderr().is_terminal());
    let outcome = reqtrail::run::run(&config, &mut emit, &STOP, &bar);
    // Before the report; a reader gone shows when the report is written.
    let _ = notices.flush();
    let code = if !outcome.errors.is_empty() {
        2
    } else if outcome.report.failed() {
        1
    } else {
        0
    };
    if config.quiet {
        return ExitCode::from(code);
    }
    for e in &outcome.errors {
        // A file name is text from outside too: never let it paint the terminal.
        eprintln!("reqtrail: {}", for_terminal(&e.to_string()));
    }
    if outcome.report.input.files.is_empty() && !outcome.errors.is_empty() {
        // No input could be read: a report would only say the input is empty.
        return ExitCode::from(2);
    }
    let format = match config.format {
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => Format::Html,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Table => Format::Table {
            color: config.color,
            terminal: config.output.is_none() && io::stdout().is_terminal(),
        },
    };
    let written = match &config.output {
        Some(path) => match File::create(path) {
            Ok(f) => report::write(&outcome.report, format, &mut io::BufWriter::new(f)),
            Err(e) => {
                let name = path.display().to_string();
                eprintln!("reqtrail: cannot write {}: {e}", for_terminal(&name));
                return ExitCode::from(2);
            }
        },
        None => report::write(
            &outcome.report,
            format,
            &mut io::BufWriter::new(io::stdout().lock()),
        ),
    };
    match written {
        Ok(()) => ExitCode::from(code),
        // `reqtrail app.log | head -1`: the reader is gone, which is fine.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(code),
        Err(e) => {
            eprintln!("reqtrail: cannot write the report: {e}");
            ExitCode::from(2)
        }
    }
}

/// `reqtrail completions SHELL` and `reqtrail manpage`.
fn print_extra(command: &Command) -> ExitCode {
    let mut out = io::stdout().lock();
    let mut cmd = Args::command();
    let written = match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "reqtrail", &mut out);
            Ok(())
        }
        Command::Manpage => clap_mangen::Man::new(cmd).render(&mut out),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reqtrail: {e}");
            ExitCode::from(2)
        }
    }
}

/// Raises the soft limit on open files to the hard one. Inputs merged by time are all open at
/// once, and the usual soft limit (1,024 on Linux, 256 on macOS) is below the count of a
/// directory of rotated logs: past it, the rest failed with "Too many open files".
fn open_as_many_files_as_allowed() {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current.is_some() && limit.current != limit.maximum {
            // macOS refuses an unlimited soft limit: its own ceiling is 10,240 (OPEN_MAX).
            for current in [limit.maximum, Some(10_240)] {
                let raised = Rlimit {
                    current,
                    maximum: limit.maximum,
                };
                if current > limit.current && setrlimit(Resource::Nofile, raised).is_ok() {
                    break;
                }
            }
        }
    }
}
