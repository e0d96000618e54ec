//! The report is the same whatever size the reads cut the input into and however many threads
//! run: each real capture is read with buffers from 1 byte up (`REQTRAIL_READ_CHUNK`), cut into
//! parse chunks of every size down to one line each (`REQTRAIL_CHUNK_BYTES`), and the captures
//! together with `--separate` on 1 and 2 threads (`RAYON_NUM_THREADS`); and the notices of
//! `--format ndjson` likewise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::Tmp;

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for name in ["docker.log", "kubectl.log"] {
            if dir.join(name).is_file() {
                files.push(dir.join(name));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 8);
    files
}

/// [`captures`], as the arguments of a command line.
fn capture_names() -> Vec<String> {
    captures()
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect()
}

/// `docker logs --timestamps` lines as the runtimes store them on disk, each line split in two
/// records where it is long enough: CRI (`stderr P` then `stderr F`) and docker's json-file
/// (a `log` without its newline, then the rest). A chunk may begin between the two halves.
fn on_disk(timestamped: &str) -> (String, String) {
    let (mut cri, mut json) = (String::new(), String::new());
    for line in timestamped.lines() {
        let (ts, payload) = line.split_once(' ').unwrap();
        let mut mid = payload.len() / 2;
        while !payload.is_char_boundary(mid) {
            mid -= 1;
        }
        let (a, b) = payload.split_at(mid);
        let record = |log: &str| {
            let log = serde_json::to_string(log).unwrap();
            format!("{{\"log\":{log},\"stream\":\"stderr\",\"time\":\"{ts}\"}}\n")
        };
        if a.is_empty() {
            cri.push_str(&format!("{ts} stderr F {b}\n"));
            json.push_str(&record(&format!("{b}\n")));
        } else {
            cri.push_str(&format!("{ts} stderr P {a}\n{ts} stderr F {b}\n"));
            json.push_str(&record(a));
            json.push_str(&record(&format!("{b}\n")));
        }
    }
    (cri, json)
}

#[test]
fn chunk_sizes_and_threads_change_nothing() {
    let tmp = Tmp::new("sizes");
    let mut files = captures();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.join("docker-timestamps.log").is_file() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        files.push(dir.join("docker-timestamps.log"));
        let (cri, json) =
            on_disk(&std::fs::read_to_string(dir.join("docker-timestamps.log")).unwrap());
        for (kind, text) in [("cri", cri), ("json-file", json)] {
            let path = tmp.0.join(format!("{name}.{kind}.log"));
            std::fs::write(&path, text).unwrap();
            files.push(path);
        }
    }
    assert!(files.len() >= 30);
    for f in &files {
        let f = f.to_str().unwrap();
        // One line at a time on one thread: no chunks at all.
        let lines = report(
            &[f],
            &[("REQTRAIL_CHUNK_BYTES", "0"), ("RAYON_NUM_THREADS", "1")],
        );
        // 1 byte: every line is a chunk of its own, so every boundary between two lines is a
        // chunk boundary (inside a traceback, a config dump, a partial record, a request).
        for size in ["1", "2", "97", "1000", "65536"] {
            for threads in ["1", "2", "3"] {
                let chunked = report(
                    &[f],
                    &[
                        ("REQTRAIL_CHUNK_BYTES", size),
                        ("RAYON_NUM_THREADS", threads),
                    ],
                );
                assert!(
                    chunked == lines,
                    "{f}: chunks of {size} bytes on {threads} threads differ from one line at a time"
                );
            }
        }
    }
}

/// Runs reqtrail for its JSON report.
fn report(args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    output("json", args, env)
}

/// Runs reqtrail; a run that takes over a minute is a hang and fails the test (not the CI).
fn output(format: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reqtrail"));
    cmd.args(["--format", format])
        .args(args)
        .envs(env.iter().copied());
    let out = common::output_within(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Notices (`--format ndjson`) of files are read in chunks too, and go out as line by line:
/// the same objects in the same order, for each capture and for all of them merged by time.
#[test]
fn notices_in_chunks_as_line_by_line() {
    let files = capture_names();
    let mut sets: Vec<Vec<&str>> = files.iter().map(|f| vec![f.as_str()]).collect();
    sets.push(files.iter().map(String::as_str).collect());
    for set in &sets {
        let lines = output("ndjson", set, &[("REQTRAIL_CHUNK_BYTES", "0")]);
        assert!(
            lines.split(|b| *b == b'\n').count() > 2,
            "{set:?}: no notices"
        );
        for size in ["1", "97", "65536"] {
            for threads in ["1", "2"] {
                let chunked = output(
                    "ndjson",
                    set,
                    &[
                        ("REQTRAIL_CHUNK_BYTES", size),
                        ("RAYON_NUM_THREADS", threads),
                    ],
                );
                assert!(
                    chunked == lines,
                    "{set:?}: notices in chunks of {size} bytes on {threads} threads differ"
                );
            }
        }
    }
}

#[test]
fn read_sizes_change_nothing() {
    for f in captures() {
        let f = f.to_str().unwrap();
        let whole = report(&[f], &[]);
        for chunk in ["1", "3", "64", "4093"] {
            assert_eq!(
                report(&[f], &[("REQTRAIL_READ_CHUNK", chunk)]),
                whole,
                "{f} read {chunk} bytes at a time"
            );
        }
    }
}

#[test]
fn thread_counts_change_nothing() {
    let files = capture_names();
    let mut args: Vec<&str> = vec!["--separate"];
    args.extend(files.iter().map(String::as_str));
    let one = report(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = report(&args, &[("RAYON_NUM_THREADS", "2")]);
    let four = report(&args, &[("RAYON_NUM_THREADS", "4")]);
    assert_eq!(one, two);
    assert_eq!(one, four);
    // Inputs read in parallel, each in many chunks (many batches): a reader must not wait for
    // a pool that is busy waiting for it (this hung once).
    for threads in ["1", "2"] {
        let chunked = report(
            &args,
            &[
                ("RAYON_NUM_THREADS", threads),
                ("REQTRAIL_CHUNK_BYTES", "512"),
            ],
        );
        assert!(chunked == one, "--separate in chunks on {threads} threads");
    }
    // Merged by time, the same inputs give one report too, whatever the threads.
    let merged: Vec<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(
        report(&merged, &[("RAYON_NUM_THREADS", "1")]),
        report(&merged, &[("RAYON_NUM_THREADS", "2")])
    );
}

/// Several inputs merged by time are read in chunks too, each input on its own; the lines are
/// taken by time whatever the chunks. Each capture is dealt into two files line by line (their
/// times, the lines' own, interleave; a traceback is torn in two) and its CRI rendering cut in
/// the middle (a partial record may end one file); all of them are merged at once too. A JSON
/// record's message has its first space written `\u0020`: the same record, whose fields must be
/// unescaped (parsed apart from its chunk).
#[test]
fn merged_inputs_in_chunks_as_line_by_line() {
    let tmp = Tmp::new("merged");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let mut sets: Vec<Vec<String>> = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let Ok(text) = std::fs::read_to_string(dir.join("docker-timestamps.log")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let plain = std::fs::read_to_string(dir.join("docker.log")).unwrap();
        let lines: Vec<&str> = plain.lines().collect();
        let escaped = |l: &str| -> String {
            let Some(at) = l.find("\"message\": \"") else {
                return l.to_string();
            };
            let space = l[at + 12..].find(' ').map(|k| at + 12 + k);
            space.map_or(l.to_string(), |k| {
                format!("{}\\u0020{}", &l[..k], &l[k + 1..])
            })
        };
        let dealt = |odd: usize| -> String {
            let mine = lines.iter().skip(odd).step_by(2);
            mine.map(|l| format!("{}\n", escaped(l))).collect()
        };
        let (cri, _) = on_disk(&text);
        let mid = cri[..cri.len() / 2].rfind('\n').map_or(0, |k| k + 1);
        let mut set = Vec::new();
        for (part, text) in [
            ("even", dealt(0)),
            ("odd", dealt(1)),
            ("cri-a", cri[..mid].to_string()),
            ("cri-b", cri[mid..].to_string()),
        ] {
            let path = tmp.0.join(format!("{name}.{part}.log"));
            std::fs::write(&path, text).unwrap();
            set.push(path.to_str().unwrap().to_string());
        }
        sets.push(set);
    }
    assert!(sets.len() >= 6);
    sets.push(sets.concat());
    for set in &sets {
        let args: Vec<&str> = set.iter().map(String::as_str).collect();
        let lines = report(&args, &[("REQTRAIL_CHUNK_BYTES", "0")]);
        for size in ["1", "97", "65536"] {
            for threads in ["1", "2"] {
                let chunked = report(
                    &args,
                    &[
                        ("REQTRAIL_CHUNK_BYTES", size),
                        ("RAYON_NUM_THREADS", threads),
                    ],
                );
                assert!(
                    chunked == lines,
                    "{args:?} merged in chunks of {size} bytes on {threads} threads differ from \
                     one line at a time"
                );
            }
        }
    }
}
