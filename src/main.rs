//! Thin entry point: flags → run → report → exit status (0 ok, 1 a check failed, 2 error).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use reqtrail::cli::Args;
use reqtrail::report::{self, Format};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let config = args.into_config();
    let outcome = reqtrail::app::run(&config);
    for e in &outcome.errors {
        eprintln!("reqtrail: {e}");
    }
    let format = if config.json {
        Format::Json
    } else {
        Format::Table {
            color: config.color,
            terminal: io::stdout().is_terminal(),
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if let Err(e) = report::write(&outcome.report, format, &mut out) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        let _ = writeln!(io::stderr(), "reqtrail: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if !outcome.errors.is_empty() {
        ExitCode::from(2)
    } else if outcome.report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
