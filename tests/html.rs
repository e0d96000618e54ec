//! The HTML report (`--format html -o FILE`): checked as text (self-contained, escaped, the
//! embedded JSON equal to `--format json`) and in a real headless browser (Debian's
//! `chromium`): the page's script runs without errors or CSP violations, draws one chart point
//! per timeline bucket with the right counts, hostile log text stays text, and a screenshot
//! of each page lands in `target/html-report-<scenario>.png`.
//!
//! Without chromium the browser test fails, saying how to install it (`apt-get install
//! chromium`). `REQTRAIL_SKIP_BROWSER=1` is the explicit opt-out: the test then passes and
//! writes a loud SKIPPED line to stderr. `REQTRAIL_CHROMIUM` overrides the browser's path.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a single chromium run may take before it is killed and the test fails.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);
/// A Host header / path that would run script if it reached the page unescaped: it closes the
/// JSON script element, opens an SVG with an onload handler, and carries U+2028 and U+202E.
const PAYLOAD: &str =
    "</script><svg/onload=document.documentElement.dataset.pwned=1>\u{2028}\u{202e}x&amp;";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `sample-logs/*/docker-timestamps.log`, as (scenario, path).
fn samples() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(manifest().join("sample-logs"))
        .unwrap()
        .filter_map(|e| {
            let dir = e.ok()?.path();
            let log = dir.join("docker-timestamps.log");
            let name = dir.file_name()?.to_str()?.to_string();
            log.is_file().then_some((name, log))
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 5,
        "expected the bundled samples, found {out:?}"
    );
    out
}

/// A fresh scratch directory under `target/tmp`.
fn scratch(tag: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("html-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The allowed_hosts capture with its hostile Host header replaced by [`PAYLOAD`] (in the raw
/// header and in Django's repr of it), under a file name that needs escaping too.
fn hostile_sample(dir: &Path) -> (String, PathBuf) {
    let src =
        std::fs::read(manifest().join("sample-logs/allowed_hosts/docker-timestamps.log")).unwrap();
    let needle = b"0;pwned";
    assert!(
        src.windows(needle.len()).any(|w| w == needle),
        "the allowed_hosts sample lost its hostile host"
    );
    let mut out = Vec::with_capacity(src.len() + 1024);
    let mut i = 0;
    while i < src.len() {
        if src[i..].starts_with(needle) {
            out.extend_from_slice(PAYLOAD.as_bytes());
            i += needle.len();
        } else {
            out.push(src[i]);
            i += 1;
        }
    }
    let path = dir.join("hostile-<b>&'\".log");
    std::fs::write(&path, out).unwrap();
    ("hostile".to_string(), path)
}

/// The byte offsets of `YYYY-MM-DD[T ]HH:MM:SS` timestamps in `text`.
fn timestamps(text: &[u8]) -> Vec<usize> {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00";
    let fits = |w: &[u8]| {
        w.iter().zip(SHAPE).all(|(&c, &s)| match s {
            b'0' => c.is_ascii_digit(),
            b'T' => c == b'T' || c == b' ',
            s => c == s,
        })
    };
    (0..text.len().saturating_sub(SHAPE.len()))
        .filter(|&i| fits(&text[i..i + SHAPE.len()]))
        .collect()
}

/// Hours of traffic: shifted copies of the healthy capture, three minutes apart with some
/// left out, so the report draws per-minute buckets (some empty) and many chart points. Every
/// timestamp (envelope and gunicorn's own) keeps its seconds and its minute offset.
fn long_sample(dir: &Path) -> (String, PathBuf) {
    let src = std::fs::read(manifest().join("sample-logs/healthy/docker-timestamps.log")).unwrap();
    let at = timestamps(&src);
    let minute = |i: usize| {
        let n = |a: usize| u32::from(src[a] - b'0') * 10 + u32::from(src[a + 1] - b'0');
        n(i + 11) * 60 + n(i + 14)
    };
    let base = at
        .iter()
        .map(|&i| minute(i))
        .min()
        .expect("timestamps in the healthy sample");
    let mut out = Vec::with_capacity(src.len() * 200);
    for k in (0..200).filter(|k| k % 7 != 3) {
        let mut copy = src.clone();
        for &i in &at {
            // Minutes past base (a capture spans a minute or two) plus three per copy: < 24 h.
            let m = (minute(i) + 24 * 60 - base) % (24 * 60) + k * 3;
            copy[i + 11..i + 16].copy_from_slice(format!("{:02}:{:02}", m / 60, m % 60).as_bytes());
        }
        out.extend_from_slice(&copy);
    }
    let path = dir.join("long.log");
    std::fs::write(&path, out).unwrap();
    ("long".to_string(), path)
}

fn reqtrail(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The HTML report of `log`, written with `-o` into `dir`, and the JSON report of the same.
fn render(scenario: &str, log: &Path, dir: &Path) -> (PathBuf, String, Value) {
    let html_path = dir.join(format!("{scenario}.html"));
    let log = log.to_str().unwrap();
    let (code, stdout, stderr) =
        reqtrail(&["--format", "html", "-o", html_path.to_str().unwrap(), log]);
    assert!(code == 0 || code == 1, "{scenario}: exit {code}: {stderr}");
    assert!(stdout.is_empty(), "{scenario}: -o still wrote to stdout");
    let html = String::from_utf8(std::fs::read(&html_path).unwrap())
        .unwrap_or_else(|e| panic!("{scenario}: the HTML is not UTF-8: {e}"));
    let (code, json, stderr) = reqtrail(&["--format", "json", log]);
    assert!(code == 0 || code == 1, "{scenario}: exit {code}: {stderr}");
    (html_path, html, serde_json::from_slice(&json).unwrap())
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The text checks: one self-contained, inert file whose embedded JSON is the report.
fn check_text(scenario: &str, html: &str, json: &Value) {
    // No raw control bytes (newlines aside), no C1 or bidi controls, no raw line separators.
    for (k, c) in html.char_indices() {
        let bad = (c.is_control() && c != '\n')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            !bad,
            "{scenario}: raw U+{:04X} at byte {k}: {:?}",
            c as u32,
            &html[k.saturating_sub(60)..(k + 20).min(html.len())]
        );
    }
    // The policy comes first and forbids every load.
    let lower = html.to_ascii_lowercase();
    let csp = lower
        .find("<meta http-equiv=\"content-security-policy\" content=\"default-src 'none';")
        .unwrap_or_else(|| panic!("{scenario}: no CSP meta"));
    for tag in ["<script", "<style", "<link", "<img", "<svg"] {
        if let Some(at) = lower.find(tag) {
            assert!(at > csp, "{scenario}: {tag} before the CSP meta");
        }
    }
    // Exactly our three script elements: the error hooks, the JSON, the chart.
    assert_eq!(count(&lower, "<script"), 3, "{scenario}: <script count");
    assert_eq!(count(&lower, "</script"), 3, "{scenario}: </script count");
    assert_eq!(
        count(&lower, "<svg"),
        0,
        "{scenario}: an <svg in the served HTML"
    );
    assert_eq!(
        count(
            html,
            "<script type=\"application/json\" id=\"report-data\">"
        ),
        1
    );
    // Nothing that would fetch: no src attributes, no CSS url()/@import, links only to data:.
    for bad in [
        " src=", "url(", "@import", "<iframe", "<object", "<embed", "<base",
    ] {
        assert!(!lower.contains(bad), "{scenario}: contains {bad}");
    }
    for (k, _) in lower.match_indices("href=\"") {
        let v = &lower[k + 6..];
        assert!(
            v.starts_with("data:") || v.starts_with('#'),
            "{scenario}: href to {:?}",
            &v[..v.len().min(40)]
        );
    }
    // The embedded JSON is the report, unchanged.
    let start = html.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let embedded: Value = serde_json::from_str(&html[start..end])
        .unwrap_or_else(|e| panic!("{scenario}: embedded JSON: {e}"));
    assert_eq!(
        &embedded, json,
        "{scenario}: embedded JSON != --format json"
    );
    // Header facts and sections.
    let version = json["tool"]["version"].as_str().unwrap();
    assert!(html.contains(&format!("reqtrail {version}")), "{scenario}");
    for section in ["id=\"checks\"", "id=\"findings\"", "id=\"timeline\""] {
        assert!(html.contains(section), "{scenario}: no {section}");
    }
    for check in json["checks"].as_array().unwrap() {
        let id = check["id"].as_str().unwrap();
        assert!(
            html.contains(&format!("data-check=\"{id}\"")),
            "{scenario}: check {id} missing"
        );
    }
    assert_eq!(
        count(html, "data-finding=\""),
        json["findings"].as_array().unwrap().len(),
        "{scenario}: findings"
    );
    if !json["latency"]["routes"].as_array().unwrap().is_empty() {
        assert!(
            html.contains("id=\"latency\""),
            "{scenario}: no latency table"
        );
    }
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REQTRAIL_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs `cmd` in its own process group; kills the group and fails past [`BROWSER_LIMIT`].
fn run_bounded(mut cmd: Command, what: &str) -> (ExitStatus, String, String) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: spawn: {e}"));
    let pgid = child.id();
    let kill_group = || {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    };
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        let _ = tx.send((0, v));
    });
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        let _ = tx2.send((1, v));
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > BROWSER_LIMIT {
            kill_group();
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {BROWSER_LIMIT:?}; killed");
        }
        thread::sleep(Duration::from_millis(25));
    };
    let mut outs = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        let left = BROWSER_LIMIT.saturating_sub(started.elapsed()) + Duration::from_secs(2);
        match rx.recv_timeout(left) {
            Ok((k, v)) => outs[k] = v,
            Err(_) => {
                // A helper process still holds the pipes open: it is in our group.
                kill_group();
                panic!("{what}: output still open after {BROWSER_LIMIT:?}; killed");
            }
        }
    }
    let [o, e] = outs;
    (
        status,
        String::from_utf8_lossy(&o).into_owned(),
        String::from_utf8_lossy(&e).into_owned(),
    )
}

fn chromium(browser: &Path, profile: &Path, extra: &[String], page: &Path) -> Command {
    let _ = std::fs::remove_dir_all(profile);
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1280,2200",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.canonicalize().unwrap().display()));
    cmd
}

/// Page errors chromium logged: uncaught exceptions and blocked loads.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .collect()
}

/// The value of `attr="…"` on the `<html …>` start tag of a serialized DOM.
fn html_attr<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let start = dom.find("<html")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// What the chart holds per bucket: (data-start, title text), in document order.
fn chart_points(dom: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, _) in dom.match_indices("data-bucket=\"") {
        let rest = &dom[k..];
        let start = rest
            .find("data-start=\"")
            .map(|s| {
                let s = &rest[s + 12..];
                s[..s.find('"').unwrap()].to_string()
            })
            .unwrap_or_default();
        let title = rest
            .find("<title>")
            .map(|t| {
                let t = &rest[t + 7..];
                t[..t.find("</title>").unwrap()].to_string()
            })
            .unwrap_or_default();
        out.push((start, title));
    }
    out
}

fn check_in_browser(browser: &Path, scenario: &str, page: &Path, json: &Value, work: &Path) {
    let what = format!("{scenario}: chromium --dump-dom");
    let (status, dom, stderr) = run_bounded(
        chromium(
            browser,
            &work.join(format!("profile-{scenario}-dom")),
            &["--dump-dom".to_string()],
            page,
        ),
        &what,
    );
    assert!(status.success(), "{what}: {status}\n{stderr}");
    let errs = console_errors(&stderr);
    assert!(errs.is_empty(), "{what}: page errors:\n{}", errs.join("\n"));
    assert_eq!(
        html_attr(&dom, "data-rendered"),
        Some("1"),
        "{what}: the chart script did not finish; errors: {:?}",
        html_attr(&dom, "data-errors")
    );
    assert_eq!(html_attr(&dom, "data-errors"), Some(""), "{what}");
    assert!(
        html_attr(&dom, "data-pwned").is_none(),
        "{what}: injected script ran"
    );

    // One point per bucket, in order, each titled with its counts.
    let buckets = json["timeline"]["buckets"].as_array().unwrap();
    let points = chart_points(&dom);
    assert_eq!(
        points.len(),
        buckets.len(),
        "{what}: chart points vs buckets"
    );
    for (k, (b, (start, title))) in buckets.iter().zip(&points).enumerate() {
        let n = |key: &str| b[key].as_u64().unwrap();
        assert_eq!(start, b["start"].as_str().unwrap(), "{what}: point {k}");
        let expect = [
            format!(
                "requests {}: probe {}, health {}, external {}",
                n("probe") + n("health") + n("external"),
                n("probe"),
                n("health"),
                n("external")
            ),
            format!(
                "2xx {}, 3xx {}, 4xx {}, 5xx {}",
                n("2xx"),
                n("3xx"),
                n("4xx"),
                n("5xx")
            ),
            format!(
                "orphans {}, worker timeouts {}, worker boots {}, DisallowedHost {}",
                n("orphans"),
                n("worker_timeouts"),
                n("worker_boots"),
                n("disallowed_hosts")
            ),
        ];
        for e in expect {
            assert!(
                title.contains(&e),
                "{what}: point {k} title {title:?} lacks {e:?}"
            );
        }
    }

    // A screenshot at 1280 px, kept as a build artefact.
    let png = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join(format!("html-report-{scenario}.png"));
    let _ = std::fs::remove_file(&png);
    let what = format!("{scenario}: chromium --screenshot");
    let (status, _, stderr) = run_bounded(
        chromium(
            browser,
            &work.join(format!("profile-{scenario}-png")),
            &[format!("--screenshot={}", png.display())],
            page,
        ),
        &what,
    );
    assert!(status.success(), "{what}: {status}\n{stderr}");
    let errs = console_errors(&stderr);
    assert!(errs.is_empty(), "{what}: page errors:\n{}", errs.join("\n"));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{what}: {}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{what}: not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    assert_eq!(
        (be(&bytes[16..20]), be(&bytes[20..24])),
        (1280, 2200),
        "{what}: size"
    );
    assert!(
        bytes.len() > 30_000,
        "{what}: {} bytes: a blank page?",
        bytes.len()
    );
}

#[test]
fn html_is_self_contained_escaped_and_carries_the_report() {
    let work = scratch("text");
    let mut all = samples();
    all.push(hostile_sample(&work));
    all.push(long_sample(&work));
    for (scenario, log) in &all {
        let (_, html, json) = render(scenario, log, &work);
        check_text(scenario, &html, &json);
        match scenario.as_str() {
            // Django's repr of the header, and the raw ESC/BEL line as evidence: visible escapes.
            "allowed_hosts" => {
                assert!(
                    html.contains("\\x1b]0;pwned\\x07evil.example"),
                    "{scenario}"
                );
                assert!(!html.contains('\u{1b}') && !html.contains('\u{7}'));
            }
            "hostile" => {
                assert!(
                    html.contains("&lt;/script&gt;&lt;svg/onload=document.documentElement.dataset.pwned=1&gt;\\u{2028}\\u{202e}x&amp;amp;"),
                    "{scenario}: the payload did not reach the page escaped"
                );
                assert!(
                    html.contains("hostile-&lt;b&gt;&amp;&#39;&quot;.log"),
                    "{scenario}"
                );
                assert!(
                    json.to_string().contains("pwned=1"),
                    "{scenario}: payload lost"
                );
            }
            "long" => {
                let t = &json["timeline"];
                assert_eq!(t["bucket_seconds"], 60, "{scenario}: per minute");
                assert!(t["buckets"].as_array().unwrap().len() > 300, "{scenario}");
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn html_renders_in_headless_chromium() {
    let Some(browser) = find_chromium() else {
        if std::env::var_os("REQTRAIL_SKIP_BROWSER").is_some_and(|v| v == "1") {
            // Straight to stderr: the test harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "html_renders_in_headless_chromium: SKIPPED (REQTRAIL_SKIP_BROWSER=1): no \
                 chromium, the page was NOT checked in a browser"
            );
            return;
        }
        panic!(
            "chromium is not installed, so the HTML report cannot be checked in a browser: \
             apt-get install -y chromium (or set REQTRAIL_CHROMIUM to its path; \
             REQTRAIL_SKIP_BROWSER=1 skips this test)"
        );
    };
    let work = scratch("browser");
    let mut all = samples();
    all.push(hostile_sample(&work));
    all.push(long_sample(&work));
    for (scenario, log) in &all {
        let (page, _, json) = render(scenario, log, &work);
        check_in_browser(&browser, scenario, &page, &json, &work);
    }
    let _ = std::fs::remove_dir_all(&work);
}
