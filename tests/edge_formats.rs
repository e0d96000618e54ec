//! The "At the edge: what users saw" section of the table, Markdown and HTML reports, run on
//! the real nginx captures (sample-logs/edge_*: nginx 1.22.1 in front of gunicorn + Django):
//! the counts come from each capture's truth.json (what the client got), the causes and the
//! evidence from the report's JSON. Log-borne text in the section stays escaped, and without
//! an edge's lines there is no such section.

mod common;
use common::{run, sample, Tmp};

use pulldown_cmark::{Event, Options, Parser};
use serde_json::Value;

const SECTION: &str = "At the edge: what users saw";

/// A capture's truth.json.
fn truth(scenario: &str) -> Value {
    let text = std::fs::read_to_string(sample(scenario, "truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (requests users made through nginx, of them answered below 500, their 5xx statuses as
/// `504 ×2`) by the client's own account.
fn users_saw(truth: &Value) -> (usize, usize, Vec<String>) {
    let through_edge: Vec<u64> = truth["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["via"] == "edge")
        .map(|r| r["status"].as_u64().expect("nginx always answers"))
        .collect();
    let mut failed = std::collections::BTreeMap::new();
    for s in through_edge.iter().filter(|s| **s >= 500) {
        *failed.entry(*s).or_insert(0) += 1;
    }
    let answered = through_edge.iter().filter(|s| **s < 500).count();
    let failed = failed.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
    (through_edge.len(), answered, failed)
}

/// The app log and nginx's two logs of a capture (those it has).
fn files(scenario: &str) -> Vec<String> {
    ["app.log", "nginx-access.log", "nginx-error.log"]
        .iter()
        .map(|f| sample(scenario, f))
        .filter(|p| std::path::Path::new(p).exists())
        .collect()
}

/// The report of `files` in `format` (exit status not checked), and its JSON.
fn report(format: &str, files: &[String]) -> (String, Value) {
    let mut args = vec!["--color", "never", "--format", format];
    args.extend(files.iter().map(String::as_str));
    let (_, out, err) = run(&args);
    assert!(err.is_empty(), "{err}");
    args[3] = "json";
    let (_, json, _) = run(&args);
    (out, serde_json::from_str(&json).unwrap())
}

/// The text from the section's heading on (in the HTML page, to the section's end: the
/// embedded JSON after it holds every line too).
fn section(text: &str) -> &str {
    let start = text.find(SECTION).expect("the edge section");
    let s = &text[start..];
    match s.find("</section>") {
        Some(end) => &s[..end],
        None => s,
    }
}

/// What edge_timeout_short's section must say, whatever the format: nginx's 504s at 1 s, the
/// /slow/ answer after nginx gave up and the /stuck/ worker killed by WORKER TIMEOUT later.
fn timeout_short_expectations(json: &Value) -> Vec<String> {
    let t = truth("edge_timeout_short");
    let (requests, answered, failed) = users_saw(&t);
    assert_eq!(failed, ["504 ×2"], "the capture's own account");
    let failures = json["edge"]["failures"].as_array().unwrap();
    let stuck = failures
        .iter()
        .find(|f| f["path"] == "/stuck/")
        .expect("/stuck/ failed at nginx");
    assert_eq!(stuck["cause"], "worker_timeout");
    let slow = failures.iter().find(|f| f["path"] == "/slow/").unwrap();
    assert_eq!(slow["cause"], "answered_after_edge_gave_up");
    let gave_up = t["edge"]["proxy_read_timeout"].as_f64().unwrap();
    vec![
        format!(
            "nginx: {requests} user requests, {answered} answered below 500, {} failed ({})",
            requests - answered,
            failed.join(", ")
        ),
        "edge clock +0 s vs the app's".into(),
        "nginx-access.log: edge (nginx), its name says so".into(),
        "app.log: app, nothing marked it an edge".into(),
        "504 ×1  GET /stuck/ at nginx, host app.example.com".into(),
        format!(
            "gunicorn killed worker {} (WORKER TIMEOUT)",
            stuck["pid"].as_u64().unwrap()
        ),
        format!(
            "the app answered {} after {:.1} s; the edge had given up after {gave_up:.1} s",
            slow["app_status"].as_u64().unwrap(),
            slow["app_seconds"].as_f64().unwrap()
        ),
        "upstream timed out (110: Connection timed out)".into(),
    ]
}

/// Each failure's two evidence lines in the JSON: the edge's first, the app's last.
fn both_sides(json: &Value, path: &str) -> (String, String) {
    let f = json["edge"]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap();
    let line = |e: &Value| {
        format!(
            "{}:{}  {}",
            e["file"].as_str().unwrap(),
            e["line"],
            e["text"].as_str().unwrap()
        )
    };
    (
        line(&f["evidence"][0]),
        line(f["app_evidence"].as_array().unwrap().last().unwrap()),
    )
}

#[test]
fn table_tells_what_users_saw_at_nginx_and_why() {
    let (table, json) = report("table", &files("edge_timeout_short"));
    let s = section(&table);
    for want in timeout_short_expectations(&json) {
        assert!(s.contains(&want), "{want:?} not in:\n{s}");
    }
    let (edge, app) = both_sides(&json, "/stuck/");
    assert!(s.contains(&format!("     edge  {edge}\n")), "{s}");
    assert!(s.contains(&format!("     app   {app}\n")), "{s}");
    assert!(app.contains("WORKER TIMEOUT"), "{app}");
    // After the findings, before the latency.
    let at = table.find(SECTION).unwrap();
    assert!(table.find("Findings, most likely cause first").unwrap() < at);
    assert!(table.find("Latency per route").unwrap() > at);
}

#[test]
fn table_names_compose_services_and_edge_alone() {
    // docker compose logs of both services: the sources are the services.
    let (table, _) = report("table", &[sample("edge_timeout_short", "compose.log")]);
    let s = section(&table);
    assert!(s.contains("nginx-1 (compose service): edge (nginx), its name says so"));
    assert!(s.contains("web-1 (compose service): app, nothing marked it an edge"));
    // nginx's logs alone: the app's side is missing, and said to be.
    let nginx = ["nginx-access.log", "nginx-error.log"].map(|f| sample("edge_timeout_short", f));
    let (table, _) = report("table", &nginx);
    let s = section(&table);
    assert!(s.contains("app's log: not read"), "{s}");
    assert!(s.contains("unknown: the app's log was not read"), "{s}");
    // A failed boot: nothing accepted nginx's connections.
    let (table, json) = report("table", &files("edge_boot_failure"));
    let (requests, answered, failed) = users_saw(&truth("edge_boot_failure"));
    let s = section(&table);
    assert!(s.contains(&format!(
        "nginx: {requests} user requests, {answered} answered below 500, {} failed ({})",
        requests - answered,
        failed.join(", ")
    )));
    assert!(json["edge"]["causes"]["no_worker_accepting"].as_u64() > Some(0));
    assert!(s.contains("nothing accepted the connection: gunicorn was down or failing to boot"));
    assert!(s.contains("connect() failed (111: Connection refused)"));
}

#[test]
fn markdown_tells_it_too_and_stays_text() {
    let (md, json) = report("markdown", &files("edge_timeout_short"));
    assert!(md.contains(&format!("\n### {SECTION}\n")), "{md}");
    // Compared as the reader sees it: Markdown's escapes undone by a CommonMark parser.
    let mut text = String::new();
    let mut html = 0;
    for ev in Parser::new_ext(section(&md), Options::ENABLE_TABLES) {
        match ev {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push('\n'),
            Event::Html(_) | Event::InlineHtml(_) => html += 1,
            _ => {}
        }
    }
    for want in timeout_short_expectations(&json) {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
    let (edge, app) = both_sides(&json, "/stuck/");
    assert!(text.contains(&format!("edge  {edge}\n")), "{text}");
    assert!(text.contains(&format!("app   {app}\n")), "{text}");
    // The footer's <sub> is the only raw HTML.
    assert_eq!(html, 2, "{md}");
}

#[test]
fn html_tells_it_too() {
    let (page, json) = report("html", &files("edge_timeout_short"));
    let start = page
        .find("<section id=\"edge\">")
        .expect("the edge section");
    let end = start + page[start..].find("</section>").unwrap();
    let s = &page[start..end];
    // Unescaped as a browser would show it (the entities the page uses).
    let text = s
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    // The group's heading is a table row here (checked below).
    for want in timeout_short_expectations(&json)
        .iter()
        .filter(|w| !w.starts_with("504 ×1"))
    {
        assert!(text.contains(want.as_str()), "{want:?} not in:\n{text}");
    }
    assert!(text.contains(
        "<td class=\"num\">504</td><td class=\"num\">1</td><td class=\"mono\">GET /stuck/<span class=\"where\">nginx, host app.example.com</span>"
    ), "{text}");
    let (edge, app) = both_sides(&json, "/stuck/");
    let (edge_at, edge_text) = edge.split_once("  ").unwrap();
    let (app_at, app_text) = app.split_once("  ").unwrap();
    assert!(
        text.contains(&format!("edge  {edge_at}</span>  {edge_text}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("app   {app_at}</span>  {app_text}\n")),
        "{text}"
    );
    // Between the findings and the timeline.
    assert!(page.find("id=\"findings\"").unwrap() < start);
    assert!(page.find("id=\"timeline\"").unwrap() > start);
}

#[test]
fn a_hostile_host_in_nginx_lines_reaches_no_output_raw() {
    let tmp = Tmp::new("edge-esc");
    let host = "\x1b]0;pwned\x07evil.example";
    let access = tmp.file(
        "nginx-access.log",
        b"203.0.113.7 - - [28/Nov/2026:03:47:02 +0000] \"GET /stuck/ HTTP/1.1\" 502 157 \"-\" \"curl/8.5.0\"\n",
    );
    let error = tmp.file(
        "nginx-error.log",
        format!(
            "2026/11/28 03:47:02 [error] 29#29: *7 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.7, server: localhost, request: \"GET /stuck/ HTTP/1.1\", upstream: \"http://127.0.0.1:8000/stuck/\", host: \"{host}\"\n"
        )
        .as_bytes(),
    );
    let files = [sample("worker_timeout", "docker.log"), access, error];
    let (_, json) = report("json", &files);
    assert_eq!(
        json["edge"]["failures"][0]["host"], host,
        "the host was read"
    );
    let shown = "\\x1b]0;pwned\\x07evil.example";
    for format in ["table", "markdown", "html"] {
        let (out, _) = report(format, &files);
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{format}");
        let s = section(&out);
        let host_shown = if format == "markdown" {
            s.contains("\\\\x1b\\]0;pwned\\\\x07evil.example")
        } else {
            s.contains(shown)
        };
        assert!(host_shown, "{format}: {s}");
        // The app's side of the same request, with the WORKER TIMEOUT that ended it.
        assert!(
            s.contains("gunicorn killed worker 27237 (WORKER TIMEOUT)"),
            "{format}"
        );
    }
}

#[test]
fn without_edge_lines_there_is_no_edge_section() {
    for scenario in ["healthy", "worker_timeout", "allowed_hosts", "boot_failure"] {
        let f = sample(scenario, "docker.log");
        for format in ["table", "markdown", "html"] {
            let (_, out, _) = run(&["--color", "never", "--format", format, &f]);
            assert!(!out.contains(SECTION), "{scenario} {format}");
        }
    }
    // The app's side of an edge capture alone: no edge either.
    let (_, out, _) = run(&["--color", "never", &sample("edge_timeout_short", "app.log")]);
    assert!(!out.contains(SECTION));
}

#[test]
fn the_readme_shows_the_section_as_it_is() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find(&format!("```text\n{SECTION}\n"))
        .expect("the README's example")
        + "```text\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let files = ["app.log", "nginx-access.log", "nginx-error.log"]
        .map(|f| format!("sample-logs/edge_timeout_short/{f}"));
    let (table, _) = report("table", &files);
    let s = section(&table);
    let s = &s[..s.find("\nLatency per route").unwrap_or(s.len())];
    assert_eq!(
        shown.trim_end(),
        s.trim_end(),
        "README.md's example is out of date (after a new capture, paste the section of \
         `reqtrail --color never sample-logs/edge_timeout_short/{{app,nginx-access,nginx-error}}.log`)"
    );
}

#[test]
fn access_lines_alone_beside_an_edge_are_said_to_be_unclear() {
    let tmp = Tmp::new("edge-unclear");
    let access = tmp.file(
        "web.log",
        b"127.0.0.1 - - [04/Dec/2026:07:13:41 +0000] \"GET /login/ HTTP/1.0\" 200 149 \"-\" \"curl/8.5.0\"\n",
    );
    let error = sample("edge_timeout_short", "nginx-error.log");
    let (table, json) = report("table", &[access.clone(), error]);
    let source = json["edge"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == access.as_str())
        .unwrap();
    assert_eq!(source["unclear"], true);
    assert!(section(&table).contains(&format!(
        "{access}: app, nothing marked it an edge (1 access line read as the app's); its input has no other line: if they are a proxy's, say so with --edge"
    )));
}

#[test]
fn ten_groups_at_most_then_how_many_more() {
    let tmp = Tmp::new("edge-many");
    let lines: String = (1..=15)
        .map(|i| {
            format!(
                "203.0.113.7 - - [28/Nov/2026:03:47:{i:02} +0000] \"GET /p{i}/ HTTP/1.1\" 502 157 \"-\" \"curl/8.5.0\"\n"
            )
        })
        .collect();
    let nginx = tmp.file("nginx-access.log", lines.as_bytes());
    for format in ["table", "markdown", "html"] {
        let (out, _) = report(format, std::slice::from_ref(&nginx));
        let s = section(&out);
        assert!(s.contains("GET /p10/"), "{format}");
        assert!(!s.contains("GET /p11/"), "{format}");
        assert!(
            s.contains("…and 5 more groups (5 failures; see --format json)"),
            "{format}: {s}"
        );
    }
}
