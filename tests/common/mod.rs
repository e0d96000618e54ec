//! What the end-to-end tests share: running the built binary, naming a captured sample.
#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;
use std::process::Command;

/// Runs reqtrail with `args`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reqtrail"))
        .args(args)
        .output()
        .expect("run reqtrail");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 output"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sample-logs/<scenario>/<file>` as a path string.
pub fn sample(scenario: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs")
        .join(scenario)
        .join(file)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}
