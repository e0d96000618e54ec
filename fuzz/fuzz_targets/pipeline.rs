//! Arbitrary bytes through the whole analysis, then the report built and written as JSON and
//! as a table, the way `reqtrail::run::run` does it.
//!
//! Oracles: no panic, no hang, every line counted (`recognized + unrecognized == lines`), the
//! JSON parses, the table carries no terminal control sequence but SGR colours, and the input
//! cut into parse chunks (of a size the input picks) gives the very JSON that reading it one
//! line at a time gives.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use reqtrail::checks::diagnose;
use reqtrail::correlate::{settle_timeout, Analysis};
use reqtrail::read::analyze_bytes_in;
use reqtrail::report::{self, Format, Report};
use reqtrail::settings::Settings;

/// Every ESC in `out` starts an SGR sequence `ESC [ digits/; m`; no C1 CSI, no BEL, no bidi
/// override made it through.
fn assert_terminal_safe(out: &str) {
    let b = out.as_bytes();
    let mut k = 0;
    while k < b.len() {
        if b[k] == 0x1b {
            assert_eq!(
                b.get(k + 1),
                Some(&b'['),
                "raw ESC not starting CSI in {out:?}"
            );
            let params = b[k + 2..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b';')
                .count();
            assert_eq!(b.get(k + 2 + params), Some(&b'm'), "non-SGR CSI in {out:?}");
            k += 3 + params;
            continue;
        }
        k += 1;
    }
    for c in out.chars() {
        let bad = (c.is_control() && c != '\n' && c != '\x1b')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!bad, "raw {c:?} in table output");
    }
}

/// The report of `data` as run::run builds it, analysed in chunks of `chunk` bytes (or by line).
fn report_of(data: &[u8], chunk: Option<usize>) -> Report {
    let settings = Arc::new(Settings {
        public_hosts: vec!["app.example.com".to_string()],
        ..Settings::default()
    });
    let a = analyze_bytes_in("fuzz.log", data, &settings, chunk);
    let mut total = Analysis::default();
    total.merge(a);

    // As run::run: the timeout in force and where it came from.
    let timeout = settle_timeout(
        None,
        total.workers.timeout_from_logs,
        &total.traffic.orphans,
    );
    let diagnosis = diagnose(&total, &settings, timeout);
    Report::build(
        &total,
        diagnosis,
        vec!["fuzz.log".to_string()],
        Vec::new(),
        (timeout.seconds, timeout.source.to_string()),
    )
}

fuzz_target!(|data: &[u8]| {
    let report = report_of(data, None);

    let lines = if data.is_empty() {
        0
    } else {
        data.split(|&c| c == b'\n').count() - usize::from(data.ends_with(b"\n"))
    };
    assert_eq!(report.input.lines, lines as u64, "every line counted");
    assert_eq!(
        report.input.recognized + report.input.unrecognized,
        report.input.lines,
        "recognized + unrecognized == lines"
    );

    let mut json = Vec::new();
    report::write(&report, Format::Json, &mut json).expect("write to memory");
    let v: serde_json::Value = serde_json::from_slice(&json).expect("the JSON parses");
    assert_eq!(v["input"]["lines"], lines as u64);

    let chunk = 1 + usize::from(data.first().copied().unwrap_or(0)) * 4;
    let mut chunked = Vec::new();
    report::write(&report_of(data, Some(chunk)), Format::Json, &mut chunked).expect("write");
    assert!(chunked == json, "chunks of {chunk} bytes change the report");

    for (color, terminal) in [(false, false), (true, true)] {
        let mut table = Vec::new();
        report::write(&report, Format::Table { color, terminal }, &mut table)
            .expect("write to memory");
        let table = String::from_utf8(table).expect("the table is UTF-8");
        if !color {
            assert!(!table.contains('\x1b'), "ESC in an uncoloured table");
        }
        assert_terminal_safe(&table);
    }
    // The other renderings must not panic either.
    for format in [Format::Markdown, Format::Html] {
        let mut out = Vec::new();
        report::write(&report, format, &mut out).expect("write to memory");
    }
});
