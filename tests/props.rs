//! Properties of the whole tool on generated input: real sample lines mixed with random junk
//! bytes, CRLF endings, blank lines and truncated lines, through the built binary.
//!
//! - every line is counted once: `input.lines` is the number of `\n`-separated lines (a last
//!   line without newline counts, empty input has none) and `recognized + unrecognized == lines`;
//! - the JSON always parses, and the same bytes give the same bytes out;
//! - lines that cannot concern the requests already in the input (junk, and requests on pids the
//!   input never mentions, at a time it already had) do not change how those were judged;
//! - standard input and a file give the same report.
//!
//! Case counts are small on purpose: the file runs in a few seconds.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reqtrail");

/// The lines of each captured sample log.
static FILES: LazyLock<Vec<Vec<Vec<u8>>>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("sample-logs")
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let logs: Vec<Vec<Vec<u8>>> = files
        .iter()
        .map(|f| {
            let data = std::fs::read(f).unwrap();
            data.split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        // An edge capture's error log is empty when nginx had nothing to say.
        .filter(|lines| !lines.is_empty())
        .collect();
    assert!(logs.len() >= 15, "the sample logs are there");
    logs
});

/// Every line of every captured sample log.
static POOL: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| FILES.concat());

#[derive(Debug, Clone)]
enum Piece {
    /// Consecutive real lines of one log (so requests pair, time out, get rejected …):
    /// (file, first line, count), the indexes taken modulo the sizes.
    Run(usize, usize, usize),
    /// A real line, by index into the pool.
    Sample(usize),
    /// A real line cut short (at a fraction of its length, in thousandths).
    Truncated(usize, u16),
    /// Arbitrary bytes, newlines included.
    Junk(Vec<u8>),
    /// An empty or whitespace-only line.
    Blank(&'static str),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        2 => (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1usize..60)
            .prop_map(|(f, start, n)| {
                let f = f.index(FILES.len());
                Piece::Run(f, start.index(FILES[f].len()), n)
            }),
        6 => any::<prop::sample::Index>().prop_map(|i| Piece::Sample(i.index(POOL.len()))),
        1 => (any::<prop::sample::Index>(), 0u16..1000)
            .prop_map(|(i, f)| Piece::Truncated(i.index(POOL.len()), f)),
        1 => prop::collection::vec(any::<u8>(), 0..60).prop_map(Piece::Junk),
        1 => prop::sample::select(vec!["", " ", "\t", "   \t "]).prop_map(Piece::Blank),
    ]
}

/// A log: pieces, each ended by LF or CRLF, the last newline sometimes missing.
fn log() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((piece(), any::<bool>()), 0..30),
        any::<bool>(),
    )
        .prop_map(|(pieces, final_newline)| {
            let mut out = Vec::new();
            for (p, crlf) in pieces {
                let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
                match p {
                    Piece::Run(f, start, n) => {
                        let lines = &FILES[f][start..(start + n).min(FILES[f].len())];
                        for l in &lines[..lines.len() - 1] {
                            out.extend_from_slice(l);
                            out.extend_from_slice(end);
                        }
                        out.extend_from_slice(&lines[lines.len() - 1]);
                    }
                    Piece::Sample(i) => out.extend_from_slice(&POOL[i]),
                    Piece::Truncated(i, f) => {
                        let l = &POOL[i];
                        out.extend_from_slice(&l[..l.len() * usize::from(f) / 1000]);
                    }
                    Piece::Junk(j) => out.extend_from_slice(&j),
                    Piece::Blank(b) => out.extend_from_slice(b.as_bytes()),
                }
                out.extend_from_slice(end);
            }
            if !final_newline && out.ends_with(b"\n") {
                out.pop();
            }
            out
        })
}

fn count_lines(data: &[u8]) -> u64 {
    if data.is_empty() {
        return 0;
    }
    let n = data.iter().filter(|&&c| c == b'\n').count() as u64;
    n + u64::from(!data.ends_with(b"\n"))
}

/// A file of its own under the system's temporary directory, removed on drop.
struct TempLog(PathBuf);

impl TempLog {
    fn new(data: &[u8]) -> TempLog {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "reqtrail-props-{}-{}.log",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, data).expect("write temp log");
        TempLog(p)
    }
}

impl Drop for TempLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the binary on a file (or on stdin, with `-`), returning exit code and stdout.
fn run(args: &[&str], file: Option<&Path>, stdin: Option<&[u8]>) -> (i32, Vec<u8>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    match file {
        Some(f) => cmd.arg(f),
        None => cmd.arg("-"),
    };
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn reqtrail");
    let writer = stdin.map(|data| {
        let mut sink = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = sink.write_all(&data);
        })
    });
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let status = child.wait().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    (status.code().expect("exited, not killed"), out)
}

fn json_of(data: &[u8]) -> (i32, Vec<u8>, Value) {
    let f = TempLog::new(data);
    let (code, out) = run(&["--format", "json"], Some(&f.0), None);
    let v = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("the JSON does not parse ({e}) for input {data:?}"));
    (code, out, v)
}

fn without_file_names(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("file");
                m.remove("files");
                // An input's name where the edge section lists it (`-` for standard input).
                m.remove("name");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn every_line_is_counted_once(data in log()) {
        let (code, _, v) = json_of(&data);
        prop_assert!(code == 0 || code == 1, "exit {}", code);
        let i = &v["input"];
        let lines = count_lines(&data);
        prop_assert_eq!(i["lines"].as_u64(), Some(lines));
        prop_assert_eq!(
            i["recognized"].as_u64().unwrap() + i["unrecognized"].as_u64().unwrap(),
            lines
        );
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn same_bytes_same_output(data in log()) {
        let f = TempLog::new(&data);
        let (_, a) = run(&["--format", "json"], Some(&f.0), None);
        let (_, b) = run(&["--format", "json"], Some(&f.0), None);
        prop_assert!(a == b, "two runs on the same bytes differ");
        let (_, t1) = run(&["--color", "always"], Some(&f.0), None);
        let (_, t2) = run(&["--color", "always"], Some(&f.0), None);
        prop_assert!(t1 == t2, "two tables of the same bytes differ");
    }

    #[test]
    fn stdin_and_file_give_the_same_report(data in log()) {
        let (code_file, _, from_file) = json_of(&data);
        let (code_stdin, out) = run(&["--format", "json"], None, Some(&data));
        let from_stdin: Value = serde_json::from_slice(&out).expect("JSON");
        prop_assert_eq!(code_file, code_stdin);
        prop_assert_eq!(without_file_names(from_file), without_file_names(from_stdin));
    }
}

/// Lines that cannot concern what the input already holds: junk no parser reads, and
/// `INCOMING REQUEST`s on pids the input never used, stamped with the input's earliest time
/// (so no stream's clock moves forward). Also no `RESPONSE` line: whether a stream logs
/// responses at all is evidence about its open requests, by design.
fn unrelated_tail(first_time: Option<&str>, junk: &[String], n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, j) in junk.iter().enumerate() {
        out.extend_from_slice(format!("zz {j}\n").as_bytes());
        if let Some(t) = first_time.filter(|_| k < n) {
            // `2026-11-28T03:21:14.000Z` → `[2026-11-28 03:21:14 +0000]` (whole seconds, so it
            // is never later than the time it came from).
            let prefix = format!("[{} {} +0000]", &t[..10], &t[11..19]);
            out.extend_from_slice(
                format!(
                    "{prefix} [{}] [INFO] INCOMING REQUEST: GET /zz-appended/{k} from 10.9.8.7 Host: zz.example\n",
                    900_000_000 + k
                )
                .as_bytes(),
            );
        }
    }
    out
}

/// What the input says about its own requests.
fn judged(v: &Value) -> (Value, Value, Value) {
    let orphans: Vec<Value> = v["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            !o["path"]
                .as_str()
                .unwrap_or("")
                .starts_with("/zz-appended/")
        })
        .cloned()
        .collect();
    (
        without_file_names(Value::Array(orphans)),
        v["requests"]["status"].clone(),
        without_file_names(v["disallowed_hosts"].clone()),
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn unrelated_lines_after_the_input_change_nothing_before(
        data in log(),
        junk in prop::collection::vec("[a-z]{1,8}( [a-z]{1,8}){0,4}", 1..6),
        n in 0usize..6,
    ) {
        let (_, _, before) = json_of(&data);
        let mut more = data.clone();
        if !more.is_empty() && !more.ends_with(b"\n") {
            more.push(b'\n');
        }
        let first = before["input"]["first_time"].as_str().map(str::to_owned);
        more.extend_from_slice(&unrelated_tail(first.as_deref(), &junk, n));
        let (_, _, after) = json_of(&more);
        prop_assert_eq!(after["input"]["lines"].as_u64(), Some(count_lines(&more)));
        prop_assert_eq!(judged(&before), judged(&after));
    }
}
