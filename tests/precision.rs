//! No false precision (issue 18): gunicorn's whole-second timestamps never print as `0.0 ms`
//! in any report format, and every format says the resolution its times have. On the real
//! worker_timeout capture: `docker.log` has gunicorn's own whole seconds, `docker-timestamps.log`
//! docker's sub-second times around the same lines.

mod common;
use common::{run, sample};

/// The latency section of a rendering: from its heading to the next section.
fn latency_part<'a>(text: &'a str, start: &str) -> &'a str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in\n{text}"));
    &text[at..]
}

#[test]
fn whole_seconds_never_print_as_milliseconds() {
    let f = sample("worker_timeout", "docker.log");
    let (_, json, _) = run(&["--format", "json", &f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["latency"]["resolution"], "whole seconds");

    let (_, table, _) = run(&["--format", "table", &f]);
    let part = latency_part(&table, "Latency per route");
    assert!(part.contains("whole seconds timestamps"), "{part}");
    assert!(part.contains("<1 s") && !part.contains(" ms"), "{part}");

    let (_, md, _) = run(&["--format", "markdown", &f]);
    let part = latency_part(&md, "### Latency");
    assert!(part.contains("(whole seconds timestamps)"), "{part}");
    assert!(
        part.contains("| <1 s |") && !part.contains("| 0 |"),
        "{part}"
    );

    let (_, html, _) = run(&["--format", "html", &f]);
    let part = latency_part(&html, "<section id=\"latency\">");
    let part = &part[..part.find("</section>").unwrap()];
    assert!(part.contains("whole seconds timestamps"), "{part}");
    assert!(part.contains("&lt;1 s"), "{part}");
    assert!(
        !part.contains(" ms<"),
        "a whole-second latency shown in ms: {part}"
    );
}

#[test]
fn sub_second_times_keep_their_milliseconds() {
    let f = sample("worker_timeout", "docker-timestamps.log");
    let (_, json, _) = run(&["--format", "json", &f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["latency"]["resolution"], "sub-second");
    let (_, html, _) = run(&["--format", "html", &f]);
    let part = latency_part(&html, "<section id=\"latency\">");
    assert!(part.contains("sub-second timestamps"), "{part}");
    assert!(part.contains(" ms<"), "{part}");
}

#[test]
fn ndjson_requests_say_their_resolution() {
    for (file, resolution) in [
        ("docker.log", "whole seconds"),
        ("docker-timestamps.log", "sub-second"),
    ] {
        let f = sample("worker_timeout", file);
        let (_, out, _) = run(&["--format", "ndjson", &f]);
        let requests: Vec<serde_json::Value> = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "request" && !v["latency_ms"].is_null())
            .collect();
        assert!(!requests.is_empty(), "{file}: {out}");
        for r in &requests {
            assert_eq!(r["resolution"], resolution, "{file}: {r}");
        }
        // A request with no latency (orphaned, in flight) has no resolution to give.
        assert!(out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "request" && v["latency_ms"].is_null())
            .all(|v| v["resolution"].is_null()));
    }
}
