//! The report as an incident write-up section in GitHub-flavoured Markdown: a summary of the
//! most likely cause, the checklist table, the findings with their evidence and fix, counts.
//!
//! Log-borne text is untrusted: in prose and table cells every character Markdown or HTML
//! could act on is escaped; evidence goes into fenced code blocks whose fence is longer than
//! any backtick run inside. Control characters are shown as visible escapes, as in the table.

use std::io::{self, Write};

use super::edge_section;
use super::escape::for_terminal;
use super::wire::{Evidence, Severity, Status};
use super::{latency_text, Report};

/// Text safe in Markdown prose and table cells.
pub fn md(text: &str) -> String {
    let text = for_terminal(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn status_word(s: Status) -> String {
    match s {
        Status::Pass => "PASS".into(),
        Status::Fail => "**FAIL**".into(),
        Status::Warn => "**WARN**".into(),
        Status::Unknown => "UNKNOWN".into(),
    }
}

/// The write-up section: a verdict and summary, the checklist, the findings, the counts.
pub fn write(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    summary(r, out)?;
    checklist(r, out)?;
    findings(r, out)?;
    edge(r, out)?;
    requests(r, out)?;
    latency(r, out)?;
    writeln!(
        out,
        "\n<sub>reqtrail {} · {} · {} lines ({} recognised{}) · {} → {}</sub>",
        r.tool.version,
        md(&r.input.files.join(", ")),
        r.input.lines,
        r.input.recognized,
        r.input.outside_window(),
        r.input.first_time.as_deref().unwrap_or("?"),
        r.input.last_time.as_deref().unwrap_or("?"),
    )?;
    Ok(())
}

/// The heading (the most likely cause, or how many checks failed) and a paragraph to paste.
fn summary(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let fails = r.checks.iter().filter(|c| c.status == Status::Fail).count();
    let verdict = match r.findings.first() {
        Some(f) if f.severity != Severity::Info => md(&f.title),
        _ if fails == 0 => "no check failed".to_string(),
        _ => format!("{fails} checks failed"),
    };
    writeln!(out, "## reqtrail: {verdict}\n")?;

    let mut summary = String::new();
    match r.findings.iter().find(|f| f.severity != Severity::Info) {
        Some(f) => {
            summary.push_str(&format!("**Most likely cause:** {}", md(&f.detail)));
            summary.push_str(&format!(" **Fix:** {}", md(&f.fix)));
        }
        None => summary.push_str("No finding: every check with evidence passed."),
    }
    let passed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.status == Status::Pass)
        .map(|c| c.title)
        .collect();
    if !passed.is_empty() {
        summary.push_str(&format!(
            " Still fine: {}.",
            md(&passed.join(", ").to_lowercase())
        ));
    }
    summary.push_str(&format!(
        " The logs hold {} requests ({} probe, {} health, {} external): {} answered, {}{} never answered.",
        r.requests.total,
        r.requests.probe,
        r.requests.health,
        r.requests.external,
        r.requests.answered,
        match r.requests.client_gone {
            0 => String::new(),
            n => format!("{n} whose client left before the answer, "),
        },
        r.requests.orphaned
    ));
    writeln!(out, "{summary}\n")?;

    Ok(())
}

fn checklist(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "| Check | Expected | Actual | Status |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for c in &r.checks {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(c.title),
            md(&c.expected),
            md(&c.actual),
            status_word(c.status)
        )?;
    }

    Ok(())
}

/// Each finding with its detail, fix and evidence (fenced: log text is never Markdown).
fn findings(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    if !r.findings.is_empty() {
        writeln!(out, "\n### Findings\n")?;
    }
    for (k, f) in r.findings.iter().enumerate() {
        let tag = match f.severity {
            Severity::Fail => "FAIL",
            Severity::Warn => "WARN",
            Severity::Info => "NOTE",
        };
        writeln!(out, "{}. **{tag}: {}**\n", k + 1, md(&f.title))?;
        writeln!(out, "   {}\n", md(&f.detail))?;
        writeln!(out, "   **Fix:** {}\n", md(&f.fix))?;
        if !f.evidence.is_empty() {
            let lines: Vec<(&str, &Evidence)> = f.evidence.iter().map(|e| ("", e)).collect();
            fenced(&lines, "   ", out)?;
        }
    }

    Ok(())
}

/// Log lines in a fenced block (indented by `indent`), `file:line  text` each after its tag.
fn fenced(lines: &[(&str, &Evidence)], indent: &str, out: &mut dyn Write) -> io::Result<()> {
    let body: String = lines
        .iter()
        .map(|(tag, e)| {
            format!(
                "{tag}{}:{}  {}\n",
                for_terminal(&e.file),
                e.line,
                for_terminal(&e.text)
            )
        })
        .collect();
    let fence = fence(&body);
    writeln!(out, "{indent}{fence}text")?;
    for line in body.lines() {
        writeln!(out, "{indent}{line}")?;
    }
    writeln!(out, "{indent}{fence}\n")
}

/// "At the edge: what users saw", when an edge's log was read: the counts, the sources and
/// the failures grouped, each with a line from both sides.
fn edge(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let Some(s) = edge_section::section(&r.edge, &r.input) else {
        return Ok(());
    };
    writeln!(out, "\n### At the edge: what users saw\n")?;
    writeln!(out, "- {}", md(&s.summary))?;
    if let Some(p) = &s.per_edge {
        writeln!(out, "- {}", md(p))?;
    }
    writeln!(out, "- {}", md(&s.clock))?;
    writeln!(out, "- Sources:")?;
    for line in &s.sources {
        writeln!(out, "  - {}", md(line))?;
    }
    if let Some(heading) = &s.failures {
        writeln!(out, "\n{}\n", md(heading))?;
    }
    for (k, g) in s.groups.iter().enumerate() {
        writeln!(out, "{}. **{}**\n", k + 1, md(&g.heading()))?;
        if let Some(said) = &g.edge_said {
            writeln!(out, "   Edge said: {}\n", md(said))?;
        }
        writeln!(out, "   App side: {}\n", md(&g.app_side))?;
        if !g.lines.is_empty() {
            fenced(&g.lines, "   ", out)?;
        }
    }
    if let Some(more) = &s.more {
        writeln!(out, "{}", md(more))?;
    }
    Ok(())
}

/// Requests by class and status code.
fn requests(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let q = &r.requests;
    writeln!(out, "\n### Requests\n")?;
    writeln!(
        out,
        "| | total | answered below 400 | 4xx | rejected host | 5xx | never answered | in flight |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for (class, s) in &q.by_class {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            serde_json::to_value(class)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            s.total,
            s.ok,
            s.client_error,
            s.host_rejected,
            s.server_error,
            s.orphaned,
            s.in_flight
        )?;
    }
    if !q.status.is_empty() {
        let statuses: Vec<String> = q.status.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
        writeln!(out, "\nStatus codes: {}.", statuses.join(", "))?;
    }
    Ok(())
}

fn latency(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    if !r.latency.routes.is_empty() {
        writeln!(out, "\n### Latency ({} timestamps)\n", r.latency.resolution)?;
        writeln!(out, "| Route | Count | p50 | p95 | p99 | max |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
        // As precise as the times behind them: whole seconds never show as `0` ms.
        let shown = |v: f64| latency_text(v, r.latency.resolution);
        for l in r.latency.routes.iter().take(15) {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                md(&l.route),
                l.count,
                shown(l.p50_ms),
                shown(l.p95_ms),
                shown(l.p99_ms),
                shown(l.max_ms)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("<script>"), "&lt;script&gt;");
        assert_eq!(md("**x**"), "\\*\\*x\\*\\*");
        assert_eq!(md("\x1b[2J"), "\\\\x1b\\[2J");
    }

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
