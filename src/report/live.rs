//! Notices written as they happen while following: one alert line for a person, or one JSON
//! object per line (`--format ndjson`) for Loki, Elasticsearch or Vector.

use std::io::{self, Write};

use serde::Serialize;

use super::escape::for_terminal as esc;
use super::ndjson;
use super::wire::AlertKind;
use super::{Format, Report};
use crate::correlate::Notice;
use crate::time::Ts;

/// Where a run's notices go, as they happen, by the format of its report: `--format ndjson`
/// writes each as a JSON line on stdout; the table writes alerts as lines on stdout above it;
/// the other formats keep stdout one document, so alerts go to stderr; `-q` writes none.
pub struct NoticeWriter {
    style: Option<Format>,
    /// Notices of inputs that are all there go out in blocks (a write per line was half the
    /// time of `--format ndjson`); those of a stream, line by line as they happen.
    stream: bool,
    /// The ndjson lines not yet written: they are written in place here, and go out when
    /// there are [`BLOCK`] bytes of them (a line at once, for a stream).
    ndjson: Vec<u8>,
    kept: ndjson::Kept,
}

impl NoticeWriter {
    /// Notices for a report in `format` (`None`: `-q`, none at all); `stream`: an input is a
    /// stream (a pipe, `--follow`), whose notices a reader waits for.
    pub fn new(format: Option<Format>, stream: bool) -> NoticeWriter {
        NoticeWriter {
            style: format,
            stream,
            ndjson: Vec::new(),
            kept: ndjson::Kept::default(),
        }
    }

    /// Writes one notice; an error means the reader went away.
    pub fn write(&mut self, n: &Notice) -> io::Result<()> {
        match self.style {
            None => Ok(()),
            Some(Format::Ndjson) => {
                ndjson::line(n, &mut self.ndjson, &mut self.kept);
                if self.stream || self.ndjson.len() >= BLOCK {
                    self.write_out()?;
                }
                Ok(())
            }
            Some(Format::Table { .. }) => write_alert_line(n, &mut io::stdout().lock()),
            Some(_) => write_alert_line(n, &mut io::stderr().lock()),
        }
    }

    /// Writes out the notices held back, before the report. A reader gone shows when the
    /// report is written.
    pub fn flush(&mut self) {
        let _ = self.write_out();
    }

    /// Writes the lines held to stdout. They are dropped even when that fails: a reader gone
    /// (`| head`) does not stop reading a file, and what was held must not grow with it.
    fn write_out(&mut self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let written = out.write_all(&self.ndjson).and_then(|()| out.flush());
        self.ndjson.clear();
        written
    }
}

/// The bytes of ndjson lines written to stdout at once.
const BLOCK: usize = 64 << 10;

/// One alert as a line of text; finished requests are not printed.
pub fn write_alert_line(n: &Notice, out: &mut dyn Write) -> io::Result<()> {
    let Notice::Alert {
        time,
        pod,
        alert,
        message,
        file,
        line,
        ..
    } = n
    else {
        return Ok(());
    };
    let kind = serde_json::to_value(AlertKind::from(*alert))
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    writeln!(
        out,
        "{} ALERT {kind}{}: {} ({}:{line})",
        time.map_or_else(|| "-".to_string(), Ts::to_rfc3339),
        pod.as_deref()
            .map(|p| format!(" [{}]", esc(p)))
            .unwrap_or_default(),
        esc(message),
        esc(file),
    )?;
    out.flush()
}

#[derive(Serialize)]
struct Tagged<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    report: &'a Report,
}

/// The closing line of an ndjson stream: the whole report, tagged `"type": "report"`.
pub fn write_report_line(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Tagged {
            r#type: "report",
            report: r,
        },
    )
    .map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}
