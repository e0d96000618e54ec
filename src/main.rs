//! Thin entry point: command line → run → report → exit status (0 ok, 1 a check failed, 2
//! error). Only here is the exit status chosen.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, Parser};
use reqtrail::cli::{Args, Command, Options};
use reqtrail::report::escape::for_terminal;
use reqtrail::report::output::{write_report, WriteError};
use reqtrail::run::{report_format, run_from_command_line};

/// Request records, chunk buffers and evidence lines are small allocations made by the million;
/// mimalloc makes the whole run ~13% faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    open_as_many_files_as_allowed();
    let options = match options_from_command_line() {
        Ok(c) => c,
        Err(code) => return code,
    };
    static STOP: AtomicBool = AtomicBool::new(false);
    if options.follow {
        // First Ctrl-C (or SIGTERM, what `docker stop` and Kubernetes send, or SIGHUP): stop
        // reading and print the checklist; a second one: leave now.
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let outcome = run_from_command_line(&options, &STOP);
    let code = if !outcome.errors.is_empty() {
        2
    } else if outcome.report.failed() {
        1
    } else {
        0
    };
    if options.quiet {
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
    let format = report_format(&options);
    match write_report(&outcome.report, format, options.output.as_deref()) {
        Ok(()) => ExitCode::from(code),
        Err(WriteError::Create(name, e)) => {
            eprintln!("reqtrail: cannot write {}: {e}", for_terminal(&name));
            ExitCode::from(2)
        }
        Err(WriteError::Write(e)) => {
            eprintln!("reqtrail: cannot write the report: {e}");
            ExitCode::from(2)
        }
    }
}

/// The validated command line; or, when there is nothing to analyse, the exit status after
/// help, a version, completions, a manual page or a usage error was printed.
fn options_from_command_line() -> Result<Options, ExitCode> {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Err(ExitCode::from(code));
        }
    };
    if let Some(command) = &args.command {
        return Err(print_extra(command));
    }
    if args.files.is_empty() && io::stdin().is_terminal() {
        // Nothing named and nothing piped in: waiting for logs to be typed looks like a hang.
        eprintln!(
            "reqtrail: no input: name log files, or pipe logs in \
             (`docker logs web 2>&1 | reqtrail`); `reqtrail -` reads what is typed"
        );
        return Err(ExitCode::from(2));
    }
    args.into_options().map_err(|e| {
        // Line by line: a parse error's own lines (TOML, regex) stay lines.
        let lines: Vec<_> = e.lines().map(for_terminal).collect();
        eprintln!("reqtrail: {}", lines.join("\n"));
        ExitCode::from(2)
    })
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
