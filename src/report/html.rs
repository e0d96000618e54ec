//! The report as one self-contained HTML page (placeholder until the timeline page lands).

use std::io::{self, Write};

use super::Report;

pub fn write(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let json = serde_json::to_string(r).map_err(io::Error::from)?;
    writeln!(
        out,
        "<!doctype html><meta charset=utf-8><title>reqtrail</title><pre id=report></pre>"
    )?;
    writeln!(
        out,
        "<script type=application/json id=data>{}</script>",
        json.replace("</", "<\\/")
    )
}
