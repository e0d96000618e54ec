//! Where the report goes: stdout or the file `-o` names, written whole in one format. With
//! [`super::live::NoticeWriter`] for the notices, this is what writes a run's output.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::Path;

use super::{write, Format, Report};

/// Why the report could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// The file `-o` named could not be made.
    Create(String, io::Error),
    Write(io::Error),
}

/// `format` for a report written to `output` (stdout when `None`): a table on a terminal gets
/// the sparklines; `color` is the command line's colour choice.
pub fn table_for(output: Option<&Path>, color: bool) -> Format {
    Format::Table {
        color,
        terminal: output.is_none() && io::stdout().is_terminal(),
    }
}

/// Writes `report` in `format` to the file `output`, or stdout. A reader that went away
/// (`reqtrail app.log | head -1`) is fine: that is not an error.
pub fn write_report(
    report: &Report,
    format: Format,
    output: Option<&Path>,
) -> Result<(), WriteError> {
    let written = match output {
        Some(path) => match File::create(path) {
            Ok(f) => write(report, format, &mut io::BufWriter::new(f)),
            Err(e) => return Err(WriteError::Create(path.display().to_string(), e)),
        },
        None => write(report, format, &mut io::BufWriter::new(io::stdout().lock())),
    };
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(WriteError::Write(e)),
        _ => Ok(()),
    }
}
