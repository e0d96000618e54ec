//! The human report: a summary, the checklist table, then the findings with evidence and fix.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::edge_section::{self, FailureGroup};
use super::escape::for_terminal as esc;
use super::wire::{Evidence, Severity, Status};
use super::{latency_text, Report};

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

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One line of block characters, at most `width` wide (buckets are summed to fit).
pub fn sparkline(values: &[u64], width: usize) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let k = values.len().div_ceil(width);
    let sums: Vec<u64> = values.chunks(k).map(|c| c.iter().sum()).collect();
    let max = sums.iter().copied().max().unwrap_or(0);
    sums.iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BARS[((v * 7) / max.max(1)) as usize]
            }
        })
        .collect()
}

fn write_latency(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let l = &r.latency;
    if l.measured == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "\nLatency per route ({} paired requests; {} timestamps):",
        l.measured, l.resolution
    )?;
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_header(vec!["route", "count", "p50", "p95", "p99", "max"]);
    // gunicorn's own timestamps are whole seconds: below one second they cannot tell.
    let show = |v: f64| latency_text(v, l.resolution);
    for route in l.routes.iter().take(10) {
        t.add_row(vec![
            esc(&route.route).into_owned(),
            route.count.to_string(),
            show(route.p50_ms),
            show(route.p95_ms),
            show(route.p99_ms),
            show(route.max_ms),
        ]);
    }
    writeln!(out, "{t}")?;
    if l.routes.len() > 10 {
        writeln!(
            out,
            "  … and {} more routes (see --format json)",
            l.routes.len() - 10
        )?;
    }
    if let Some(s) = l.slowest.first() {
        writeln!(
            out,
            "Slowest: {} {} took {} ({}:{})",
            s.method,
            esc(&s.path),
            show(s.seconds * 1000.0),
            esc(&s.file),
            s.line
        )?;
    }
    Ok(())
}

/// "At the edge: what users saw", when an edge's log was read.
fn write_edge(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let Some(s) = edge_section::section(&r.edge, &r.input) else {
        return Ok(());
    };
    writeln!(out, "\nAt the edge: what users saw")?;
    writeln!(out, "  {}", esc(&s.summary))?;
    if let Some(p) = &s.per_edge {
        writeln!(out, "  {}", esc(p))?;
    }
    writeln!(out, "  {}", esc(&s.clock))?;
    writeln!(out, "  Sources:")?;
    for line in &s.sources {
        writeln!(out, "    {}", esc(line))?;
    }
    if let Some(heading) = &s.failures {
        writeln!(out, "  {}", esc(heading))?;
    }
    for (k, g) in s.groups.iter().enumerate() {
        write_failure_group(k + 1, g, out)?;
    }
    if let Some(more) = &s.more {
        writeln!(out, "  {}", esc(more))?;
    }
    Ok(())
}

fn write_failure_group(n: usize, g: &FailureGroup<'_>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "  {n}. {}", esc(&g.heading()))?;
    if let Some(said) = &g.edge_said {
        writeln!(out, "     edge said: {}", esc(said))?;
    }
    writeln!(out, "     app side:  {}", esc(&g.app_side))?;
    for (tag, e) in &g.lines {
        writeln!(
            out,
            "     {tag}{}:{}  {}",
            esc(&e.file),
            e.line,
            esc(&e.text)
        )?;
    }
    Ok(())
}

fn write_pods(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    if r.pods.len() < 2 {
        return Ok(());
    }
    writeln!(out, "\nPer pod (each correlated on its own):")?;
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_header(vec![
            "pod",
            "lines",
            "requests",
            "orphaned",
            "in flight",
            "5xx",
            "timeouts",
            "killed",
            "bad hosts",
        ]);
    for p in r.pods.iter().take(20) {
        t.add_row(vec![
            esc(&p.pod).into_owned(),
            p.lines.to_string(),
            p.requests.to_string(),
            p.orphaned.to_string(),
            p.in_flight.to_string(),
            p.server_errors.to_string(),
            p.worker_timeouts.to_string(),
            p.workers_killed.to_string(),
            p.disallowed_hosts.to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    if r.pods.len() > 20 {
        writeln!(
            out,
            "  … and {} more pods (see --format json)",
            r.pods.len() - 20
        )?;
    }
    Ok(())
}

fn write_sparklines(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let b = &r.timeline.buckets;
    if b.len() < 2 {
        return Ok(());
    }
    let requests: Vec<u64> = b.iter().map(|x| x.counts.requests()).collect();
    let orphans: Vec<u64> = b.iter().map(|x| x.counts.orphans).collect();
    let unit = if r.timeline.bucket_seconds == 1 {
        "second".to_string()
    } else {
        format!("{} s", r.timeline.bucket_seconds)
    };
    writeln!(
        out,
        "\nrequests │{}│ per {unit}, {} → {}",
        sparkline(&requests, 60),
        b[0].start,
        b[b.len() - 1].start
    )?;
    writeln!(out, "orphans  │{}│", sparkline(&orphans, 60))?;
    Ok(())
}

pub fn write(r: &Report, color: bool, terminal: bool, out: &mut dyn Write) -> io::Result<()> {
    let i = &r.input;
    writeln!(
        out,
        "reqtrail {} · {} · {} lines ({} recognised, {} not{}){}",
        r.tool.version,
        if i.files.is_empty() {
            "no input".to_string()
        } else {
            esc(&i.files.join(", ")).into_owned()
        },
        i.lines,
        i.recognized,
        i.unrecognized,
        i.outside_window(),
        match (&i.first_time, &i.last_time) {
            (Some(a), Some(b)) => format!(" · {a} → {b}"),
            _ => String::new(),
        }
    )?;
    let s = &r.server;
    let mut server: Vec<String> = s.facts().iter().map(|f| esc(f).into_owned()).collect();
    server.push(format!(
        "timeout {} s ({})",
        s.timeout_seconds, s.timeout_source
    ));
    writeln!(out, "{}", server.join(" · "))?;
    let q = &r.requests;
    let statuses: Vec<String> = q.status.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    writeln!(
        out,
        "requests {} (probe {}, health {}, external {}) · answered {}{} · orphaned {} · in flight {}{}",
        q.total,
        q.probe,
        q.health,
        q.external,
        q.answered,
        if q.client_gone > 0 { format!(" · client gone before the answer {}", q.client_gone) } else { String::new() },
        q.orphaned,
        q.in_flight,
        if statuses.is_empty() { String::new() } else { format!(" · status {}", statuses.join(", ")) }
    )?;
    writeln!(out)?;

    // Say up front when most of the input was not understood: the checklist below sees little.
    if let Some(f) = r.findings.iter().find(|f| f.id == "nothing_recognized") {
        writeln!(out, "!! {}", esc(&f.title))?;
        writeln!(out, "   {}", esc(&f.detail))?;
        writeln!(out, "   {}", esc(&f.fix))?;
        evidence_lines(out, &f.evidence, "   ")?;
        writeln!(out)?;
    }

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
    if terminal {
        write_sparklines(r, out)?;
    }

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
    write_edge(r, out)?;
    write_pods(r, out)?;
    write_latency(r, out)?;
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

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparkline_scales_and_fits() {
        assert_eq!(sparkline(&[0, 1, 14], 10), " ▁█");
        assert_eq!(sparkline(&[1; 120], 60).chars().count(), 60);
        assert_eq!(sparkline(&[], 60), "");
    }
}
