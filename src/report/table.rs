//! The human report: a summary, the checklist table, then the findings with evidence and fix.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::escape::for_terminal as esc;
use super::Report;
use crate::correlate::Evidence;
use crate::diagnose::{Severity, Status};

fn status_cell(s: Status, color: bool) -> Cell {
    let cell = Cell::new(s.as_str());
    if !color {
        return cell;
    }
    match s {
        Status::Pass => cell.fg(Color::Green),
        Status::Fail => cell.fg(Color::Red),
        Status::Warn => cell.fg(Color::Yellow),
        Status::Unknown => cell.fg(Color::DarkGrey),
    }
}

fn evidence_lines(out: &mut dyn Write, ev: &[Evidence], indent: &str) -> io::Result<()> {
    for e in ev {
        writeln!(out, "{indent}{}:{}  {}", esc(&e.file), e.line, esc(&e.text))?;
    }
    Ok(())
}

pub fn write(r: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let i = &r.input;
    writeln!(
        out,
        "reqtrail {} · {} · {} lines ({} recognised, {} not){}",
        r.tool.version,
        if i.files.is_empty() {
            "no input".to_string()
        } else {
            esc(&i.files.join(", ")).into_owned()
        },
        i.lines,
        i.recognized,
        i.unrecognized,
        match (&i.first_time, &i.last_time) {
            (Some(a), Some(b)) => format!(" · {a} → {b}"),
            _ => String::new(),
        }
    )?;
    let s = &r.server;
    let mut server = Vec::new();
    if let Some(v) = &s.gunicorn_version {
        server.push(format!("gunicorn {}", esc(v)));
    }
    if let Some(c) = &s.worker_class {
        server.push(format!("{} workers", esc(c)));
    }
    if !s.listening.is_empty() {
        server.push(format!("listening at {}", esc(&s.listening.join(", "))));
    }
    server.push(format!(
        "timeout {} s ({})",
        s.timeout_seconds, s.timeout_source
    ));
    writeln!(out, "{}", server.join(" · "))?;
    let q = &r.requests;
    let statuses: Vec<String> = q.status.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    writeln!(
        out,
        "requests {} (probe {}, health {}, external {}) · answered {} · orphaned {} · in flight {}{}",
        q.total,
        q.probe,
        q.health,
        q.external,
        q.answered,
        q.orphaned,
        q.in_flight,
        if statuses.is_empty() { String::new() } else { format!(" · status {}", statuses.join(", ")) }
    )?;
    writeln!(out)?;

    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(vec!["Check", "Expected", "Actual", "Status"]);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    for c in &r.checks {
        table.add_row(vec![
            Cell::new(format!("{}\n({})", c.title, c.id)),
            Cell::new(esc(&c.expected)),
            Cell::new(esc(&c.actual)),
            status_cell(c.status, color),
        ]);
    }
    writeln!(out, "{table}")?;

    if r.findings.is_empty() {
        writeln!(out, "\nNo findings.")?;
    } else {
        writeln!(out, "\nFindings, most likely cause first:")?;
    }
    for (k, f) in r.findings.iter().enumerate() {
        let tag = match f.severity {
            Severity::Fail => "FAIL",
            Severity::Warn => "WARN",
            Severity::Info => "NOTE",
        };
        writeln!(out, "\n{}. [{tag}] {}", k + 1, esc(&f.title))?;
        writeln!(out, "   {}", esc(&f.detail))?;
        writeln!(out, "   Fix: {}", esc(&f.fix))?;
        if !f.evidence.is_empty() {
            writeln!(out, "   Evidence:")?;
            evidence_lines(out, &f.evidence, "     ")?;
        }
    }
    if !r.input.errors.is_empty() {
        writeln!(out, "\nInputs not read:")?;
        for e in &r.input.errors {
            writeln!(out, "  {}", esc(e))?;
        }
    }
    if r.input.unrecognized > 0 {
        writeln!(
            out,
            "\n{} lines not recognised; first ones:",
            r.input.unrecognized
        )?;
        evidence_lines(out, &r.input.unrecognized_samples, "  ")?;
    }
    Ok(())
}
