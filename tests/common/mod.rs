//! What the end-to-end tests share: running the built binary, naming a captured sample, a
//! directory of files made for one test.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory of its own for one test, removed when it is dropped.
pub struct Tmp(pub PathBuf);

impl Tmp {
    pub fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("reqtrail-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    /// Writes `data` to `name` in the directory; returns its path.
    pub fn file(&self, name: &str, data: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_string()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Ctrl-C, to `child` by its PID.
pub fn interrupt(child: &std::process::Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
}

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

/// Runs `cmd` to its end like `Command::output`, but fails the test (killing the process) if it
/// takes longer than `limit`: a hang must fail a test, not stall CI. Stdout and stderr are read
/// while it runs, so a large output cannot block it.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// The captured scenarios with `marker` in their directory (`docker.log` for the app's,
/// `compose.log` for the edge's): the committed ones under `sample-logs/`, then the fresh ones
/// CI made under `REQTRAIL_CAPTURE_DIR`, each root's sorted, at least `min` in each.
pub fn capture_dirs(marker: &str, min: usize) -> Vec<PathBuf> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs")];
    if let Some(fresh) = std::env::var_os("REQTRAIL_CAPTURE_DIR") {
        roots.push(PathBuf::from(fresh));
    }
    let mut dirs = Vec::new();
    for root in roots {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("truth.json").is_file() && p.join(marker).is_file())
            .collect();
        found.sort();
        assert!(
            found.len() >= min,
            "expected {min} captured scenarios with {marker} in {}",
            root.display()
        );
        dirs.extend(found);
    }
    dirs
}

/// The captures of the pinned stacks (`scripts/capture.sh --stack NAME`) with `marker` in their
/// directory: `sample-logs/stacks/<stack>/<scenario>/` (at least `min_stacks` stacks there), then
/// `stacks/<stack>/<scenario>/` under `REQTRAIL_CAPTURE_DIR` when CI captured some there.
pub fn stack_capture_dirs(marker: &str, min_stacks: usize) -> Vec<PathBuf> {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/stacks");
    let mut roots = vec![(committed, min_stacks)];
    if let Some(fresh) = std::env::var_os("REQTRAIL_CAPTURE_DIR") {
        roots.push((PathBuf::from(fresh).join("stacks"), 0));
    }
    let sorted_subdirs = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    };
    let mut dirs = Vec::new();
    for (root, min) in roots {
        let stacks = sorted_subdirs(&root);
        assert!(
            stacks.len() >= min,
            "expected {min} captured stacks in {}",
            root.display()
        );
        for stack in stacks {
            dirs.extend(
                sorted_subdirs(&stack)
                    .into_iter()
                    .filter(|p| p.join("truth.json").is_file() && p.join(marker).is_file()),
            );
        }
    }
    dirs
}

/// `promtool check metrics` on the text: must pass where promtool is installed; absent, the
/// check is skipped with a message, except in CI (`CI` or `REQTRAIL_NEED_PROMTOOL` set), where
/// .ci/run installs it.
pub fn promtool_check(text: &str, what: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let in_ci =
        std::env::var_os("CI").is_some() || std::env::var_os("REQTRAIL_NEED_PROMTOOL").is_some();
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if !in_ci => {
            eprintln!("promtool not found ({e}): `promtool check metrics` skipped (apt-get install prometheus)");
            return;
        }
        Err(e) => panic!("promtool is needed in CI: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics, {what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
