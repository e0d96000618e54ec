//! Notices written as they happen while following: one alert line for a person, or one JSON
//! object per line (`--format ndjson`) for Loki, Elasticsearch or Vector.

use std::io::{self, Write};

use serde::Serialize;

use super::escape::for_terminal as esc;
use super::Report;
use crate::correlate::Notice;

/// One notice as a JSON line (finished requests and alerts alike); `flush`: at once, for a
/// reader waiting on a stream.
pub fn write_ndjson(n: &Notice, out: &mut impl Write, flush: bool) -> io::Result<()> {
    // Generic, not `dyn Write`: serde writes a notice in some forty pieces.
    serde_json::to_writer(&mut *out, n).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    if flush {
        out.flush()?;
    }
    Ok(())
}

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
    let kind = serde_json::to_value(alert)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    writeln!(
        out,
        "{} ALERT {kind}{}: {} ({}:{line})",
        time.as_deref().unwrap_or("-"),
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
