//! The report is the same whatever size the reads cut the input into and however many threads
//! run: each real capture is read with buffers from 1 byte up (`REQTRAIL_READ_CHUNK`), and the
//! captures together with `--separate` on 1 and 2 threads (`RAYON_NUM_THREADS`).

use std::path::{Path, PathBuf};
use std::process::Command;

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

fn report(args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(["--format", "json"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
    let files: Vec<String> = captures()
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let mut args: Vec<&str> = vec!["--separate"];
    args.extend(files.iter().map(String::as_str));
    let one = report(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = report(&args, &[("RAYON_NUM_THREADS", "2")]);
    let four = report(&args, &[("RAYON_NUM_THREADS", "4")]);
    assert_eq!(one, two);
    assert_eq!(one, four);
    // Merged by time, the same inputs give one report too, whatever the threads.
    let merged: Vec<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(
        report(&merged, &[("RAYON_NUM_THREADS", "1")]),
        report(&merged, &[("RAYON_NUM_THREADS", "2")])
    );
}
