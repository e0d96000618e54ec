//! Inputs as they sit on disk: error and access logs kept apart, rotated and compressed files,
//! directories, a time window. Each case is cut from a real capture and must give the same
//! answers as the capture read whole.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::Tmp;

fn capture(scenario: &str) -> (String, Vec<u8>) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs")
        .join(scenario)
        .join("docker.log");
    (p.to_str().unwrap().to_string(), std::fs::read(&p).unwrap())
}

fn json(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {err}"));
    (out.status.code().unwrap(), v, err)
}

fn is_access(line: &[u8]) -> bool {
    // gunicorn's access lines start with the client address; everything else is stderr.
    line.first().is_some_and(|c| c.is_ascii_digit()) && line.windows(4).any(|w| w == b" - -")
}

#[test]
fn error_and_access_logs_apart_read_as_one() {
    let t = Tmp::new("apart");
    for scenario in ["worker_timeout", "healthy", "allowed_hosts"] {
        let (whole, data) = capture(scenario);
        let (mut err_log, mut access_log) = (Vec::new(), Vec::new());
        for line in data.split_inclusive(|&c| c == b'\n') {
            if is_access(line) {
                &mut access_log
            } else {
                &mut err_log
            }
            .extend_from_slice(line);
        }
        assert!(!access_log.is_empty() && !err_log.is_empty());
        let e = t.file(&format!("{scenario}-error.log"), &err_log);
        let a = t.file(&format!("{scenario}-access.log"), &access_log);
        let (_, one, _) = json(&["--format", "json", &whole]);
        let (_, merged, _) = json(&["--format", "json", &a, &e]);
        assert_eq!(merged["requests"], one["requests"], "{scenario}");
        assert_eq!(
            merged["orphans"].as_array().unwrap().len(),
            one["orphans"].as_array().unwrap().len()
        );
        assert_eq!(merged["input"]["lines"], one["input"]["lines"]);
        // Evidence names the file each request started in, not the file read last.
        for o in merged["orphans"].as_array().unwrap() {
            assert_eq!(o["file"], e.as_str(), "{o}");
        }
        for s in merged["latency"]["slowest"].as_array().unwrap() {
            assert_eq!(s["file"], e.as_str(), "{s}");
        }
        // Followed apart, every access line becomes a request of its own.
        let (_, apart, _) = json(&["--format", "json", "--separate", &a, &e]);
        assert!(
            apart["requests"]["total"].as_u64() > one["requests"]["total"].as_u64(),
            "{scenario}"
        );
    }
}

#[test]
fn rotated_and_compressed_files_read_as_one() {
    let t = Tmp::new("rotated");
    let (whole, data) = capture("healthy");
    let (_, one, _) = json(&["--format", "json", &whole]);
    let lines: Vec<&[u8]> = data.split_inclusive(|&c| c == b'\n').collect();
    let cut = lines.len() / 2;
    let older: Vec<u8> = lines[..cut].concat();
    let newer: Vec<u8> = lines[cut..].concat();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&older).unwrap();
    let gz = gz.finish().unwrap();
    let rotated_gz = t.file("app.log.1.gz", &gz);
    let current = t.file("app.log", &newer);
    // Given newest first, as a shell glob sorts them: the merge restores time order.
    let (_, merged, _) = json(&["--format", "json", &current, &rotated_gz]);
    assert_eq!(merged["requests"], one["requests"]);
    assert_eq!(merged["input"]["files"].as_array().unwrap().len(), 2);
    // A directory stands for its files.
    let (_, by_dir, _) = json(&["--format", "json", t.0.to_str().unwrap()]);
    assert_eq!(by_dir["requests"], one["requests"]);
    // zstd too, whatever the file is called.
    let zst = t.file("whole.bin", &zstd::encode_all(&data[..], 3).unwrap());
    let (_, z, _) = json(&["--format", "json", &zst]);
    assert_eq!(z["requests"], one["requests"]);
    assert_eq!(z["input"]["lines"], one["input"]["lines"]);
}

/// More rotated files than the usual soft limit on open files lets a process hold (the merge
/// holds them all): reqtrail raises the limit to the hard one, so every file is read. Run here
/// under a soft limit of 32, with a capture cut into a file per line (100 files).
#[test]
fn more_files_than_the_soft_limit_on_open_files() {
    let t = Tmp::new("many");
    let (whole, data) = capture("worker_timeout");
    let (_, one, _) = json(&["--format", "json", &whole]);
    let lines: Vec<&[u8]> = data.split_inclusive(|&c| c == b'\n').collect();
    let files: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(k, line)| t.file(&format!("app.log.{k:03}"), line))
        .collect();
    assert!(files.len() >= 64, "{} files", files.len());
    let script = format!(
        "ulimit -Sn 32 && exec \"$0\" --format json {}",
        files.join(" ")
    );
    let out = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_reqtrail")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("Too many open files"), "{err}");
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["requests"], one["requests"]);
    assert_eq!(merged["input"]["lines"], one["input"]["lines"]);
    assert_eq!(
        merged["input"]["files"].as_array().unwrap().len(),
        files.len()
    );
}

#[test]
fn a_truncated_gzip_is_named_and_what_it_held_is_kept() {
    let t = Tmp::new("truncated");
    let (_, data) = capture("healthy");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap();
    let gz = gz.finish().unwrap();
    let f = t.file("cut.log.gz", &gz[..gz.len() * 2 / 3]);
    let (code, r, err) = json(&["--format", "json", &f]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cut.log.gz"), "{err}");
    assert!(
        r["input"]["lines"].as_u64().unwrap() > 0,
        "the lines before the cut are analysed"
    );
    assert_eq!(r["input"]["errors"].as_array().unwrap().len(), 1);
}

/// Merged with another input (each read in chunks, lines taken by time), a truncated gzip is
/// named as well, and the report is the one a line-at-a-time read gives.
#[test]
fn a_truncated_gzip_among_merged_inputs() {
    let t = Tmp::new("truncated-merged");
    let (other, _) = capture("worker_timeout");
    let (_, data) = capture("healthy");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap();
    let gz = gz.finish().unwrap();
    let f = t.file("cut.log.gz", &gz[..gz.len() * 2 / 3]);
    let run = |chunk: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
            .args(["--format", "json", &f, &other])
            .env("REQTRAIL_CHUNK_BYTES", chunk)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), out.stdout, err)
    };
    let (code, chunked, err) = run("300");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cut.log.gz"), "{err}");
    let r: Value = serde_json::from_slice(&chunked).unwrap();
    assert_eq!(r["input"]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(run("0").1, chunked, "chunks and lines give one report");
}

/// A file named twice (two spellings, or once itself and once in its directory) is read once:
/// its requests are not counted twice.
#[test]
fn a_file_named_twice_is_read_once() {
    let (whole, data) = capture("worker_timeout");
    let t = Tmp::new("twice");
    let copy = t.file("error.log", &data);
    let (_, once, _) = json(&["--format", "json", &copy]);
    let dotted = format!("{}/./error.log", t.0.display());
    let dir = t.0.to_str().unwrap();
    let (_, twice, _) = json(&["--format", "json", &copy, &dotted, dir]);
    assert_eq!(twice["input"]["files"], once["input"]["files"]);
    assert_eq!(twice["requests"], once["requests"]);
    // Two files with the same lines are two inputs all the same.
    let (_, two, _) = json(&["--format", "json", &copy, &whole]);
    assert_eq!(two["input"]["files"].as_array().unwrap().len(), 2);
}

#[test]
fn since_and_until_keep_a_window_and_count_the_rest() {
    let (whole, _) = capture("worker_timeout");
    let (_, all, _) = json(&["--format", "json", &whole]);
    let first = all["input"]["first_time"].as_str().unwrap().to_string();
    let last = all["input"]["last_time"].as_str().unwrap().to_string();
    let (_, none, _) = json(&[
        "--format", "json", "--since", &last, "--until", &last, &whole,
    ]);
    let input = &none["input"];
    let (lines, rec, unrec, filtered) = (
        input["lines"].as_u64().unwrap(),
        input["recognized"].as_u64().unwrap(),
        input["unrecognized"].as_u64().unwrap(),
        input["filtered"].as_u64().unwrap(),
    );
    assert_eq!(lines, all["input"]["lines"].as_u64().unwrap());
    assert_eq!(rec + unrec + filtered, lines);
    assert!(filtered > 0 && rec > 0);
    assert!(none["requests"]["total"].as_u64() < all["requests"]["total"].as_u64());
    // Recognition is judged on the lines in the window: those left out are not "unrecognised".
    let recognised = &none["checks"][0];
    assert_eq!(recognised["id"], "log_lines_recognized");
    assert_eq!(recognised["status"], "PASS", "{recognised}");
    assert!(recognised["actual"]
        .as_str()
        .unwrap()
        .ends_with(&format!("({filtered} outside --since / --until)")));
    // A window the log does not reach says so, and fails like an empty input.
    let (code, outside, _) = json(&["--format", "json", "--until", "2000-01-01", &whole]);
    assert_eq!(code, 1);
    assert_eq!(outside["input"]["filtered"], all["input"]["lines"]);
    assert_eq!(
        outside["checks"][0]["actual"],
        format!("all {lines} lines are outside --since / --until")
    );
    let finding = &outside["findings"][0];
    assert_eq!(finding["id"], "nothing_recognized");
    assert!(finding["title"]
        .as_str()
        .unwrap()
        .starts_with("No line falls within --since / --until"));
    // The table's first line counts them too.
    let table = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--until", "2000-01-01", &whole])
        .output()
        .unwrap();
    let head = String::from_utf8(table.stdout).unwrap();
    let head = head.lines().next().unwrap();
    assert!(
        head.contains(&format!(
            "{lines} lines (0 recognised, 0 not, {lines} outside --since / --until)"
        )),
        "{head}"
    );
    let (_, everything, _) = json(&[
        "--format", "json", "--since", &first, "--until", &last, &whole,
    ]);
    assert_eq!(everything["requests"], all["requests"]);
    assert_eq!(everything["input"]["filtered"], 0);
}
