//! The other outputs: Markdown (checked with a real CommonMark/GFM parser), `-q`, `-o`,
//! completions and the man page.

mod common;
use common::{run, sample};

use std::process::Command;
use std::time::Duration;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Tables in `md`, each as rows of cell texts (header row first).
fn tables(md: &str) -> (Vec<Vec<Vec<String>>>, usize) {
    let mut tables = Vec::new();
    let mut html = 0;
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => row = Vec::new(),
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                tables.last_mut().unwrap().push(std::mem::take(&mut row))
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.push(cell.take().unwrap()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::Html(_) | Event::InlineHtml(_) => html += 1,
            _ => {}
        }
    }
    (tables, html)
}

#[test]
fn markdown_checklist_is_a_real_table() {
    for scenario in ["allowed_hosts", "worker_timeout", "healthy", "boot_failure"] {
        let f = sample(scenario, "docker.log");
        let (_, json, _) = run(&["--format", "json", "--public-host", "app.example.com", &f]);
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        let (code, md, _) = run(&[
            "--format",
            "markdown",
            "--public-host",
            "app.example.com",
            &f,
        ]);
        let (table_code, _, _) = run(&["-q", "--public-host", "app.example.com", &f]);
        assert_eq!(code, table_code, "same exit status whatever the format");
        let (tables, html) = tables(&md);
        let checklist = &tables[0];
        assert_eq!(
            checklist[0],
            ["Check", "Expected", "Actual", "Status"],
            "{scenario}"
        );
        let checks = report["checks"].as_array().unwrap();
        assert_eq!(checklist.len(), checks.len() + 1, "{scenario}");
        for (row, check) in checklist[1..].iter().zip(checks) {
            assert_eq!(row.len(), 4);
            assert_eq!(row[0], check["title"].as_str().unwrap());
            // What the log said reaches the reader intact (escapes undone by the parser).
            assert_eq!(
                row[2],
                check["actual"]
                    .as_str()
                    .unwrap()
                    .replace('\x1b', "\\x1b")
                    .replace('\x07', "\\x07")
            );
            assert_eq!(row[3], check["status"].as_str().unwrap());
        }
        // The only raw HTML is ours (the footer's <sub>); nothing from the logs becomes HTML.
        assert_eq!(html, 2, "{scenario}: {md}");
        assert!(!md.contains('\x1b') && !md.contains('\x07'), "{scenario}");
        if let Some(f) = report["findings"].as_array().unwrap().first() {
            assert!(md.lines().next().unwrap().starts_with("## reqtrail: "));
            assert!(md.contains("**Fix:**"), "{scenario}");
            assert!(f["title"].as_str().is_some());
        }
    }
}

/// `reqtrail` alone at a terminal says what it wants instead of waiting for logs to be typed
/// (run under `script`, which gives it a terminal for its standard input).
#[test]
fn no_input_at_a_terminal_is_a_usage_error() {
    let bin = env!("CARGO_BIN_EXE_reqtrail");
    let at_terminal = |args: &str| {
        common::output_within(
            Command::new("script").args(["-qec", &format!("'{bin}' {args}"), "/dev/null"]),
            Duration::from_secs(30),
        )
    };
    let out = at_terminal("");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.starts_with("reqtrail: no input: "), "{text}");
    // A file named: the terminal is not asked.
    let out = at_terminal(&sample("healthy", "docker.log"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Every logged request answered"), "{text}");
}

#[test]
fn quiet_prints_nothing_and_output_goes_to_the_file() {
    let f = sample("allowed_hosts", "docker.log");
    let (code, out, err) = run(&["-q", &f, "/nonexistent.log"]);
    assert_eq!((code, out.as_str(), err.as_str()), (2, "", ""));
    let (code, out, err) = run(&["-q", "--public-host", "app.example.com", &f]);
    assert_eq!((code, out.as_str(), err.as_str()), (1, "", ""));
    let dest = std::env::temp_dir().join(format!("reqtrail-o-{}.json", std::process::id()));
    let (code, out, _) = run(&["--format", "json", "-o", dest.to_str().unwrap(), &f]);
    let written = std::fs::read_to_string(&dest).unwrap();
    std::fs::remove_file(&dest).ok();
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&written).is_ok());
    let (code, _, err) = run(&["-o", "/nonexistent-dir/r.txt", &f]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent-dir/r.txt"), "{err}");
    // An input as the output: refused before anything is read or written.
    let log = std::env::temp_dir().join(format!("reqtrail-o-{}.log", std::process::id()));
    let data = std::fs::read(&f).unwrap();
    std::fs::write(&log, &data).unwrap();
    let (code, out, err) = run(&["-o", log.to_str().unwrap(), log.to_str().unwrap()]);
    let kept = std::fs::read(&log).unwrap();
    std::fs::remove_file(&log).ok();
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("is one of the inputs"), "{err}");
    assert!(kept == data, "the log was overwritten");
    // A usage error's own lines (here the regex parser's) stay lines on stderr.
    let (code, _, err) = run(&["--request-start", "(", &f]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unclosed group") && err.lines().count() > 1,
        "{err}"
    );
    assert!(!err.contains("\\x0a"), "{err}");
}

#[test]
fn completions_and_man_page_come_from_the_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = run(&["completions", shell]);
        assert_eq!(code, 0);
        assert!(out.contains("public-host"), "{shell}");
    }
    let (code, man, _) = run(&["manpage"]);
    assert_eq!(code, 0);
    assert!(
        man.starts_with(".ie") || man.contains(".TH reqtrail"),
        "{man}"
    );
    assert!(man.contains("public\\-host"), "{man}");
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Examples:") && help.contains("Exit status"));
    let (code, version, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(version.contains(env!("CARGO_PKG_VERSION")));
}
