//! The one way down (ARCHITECTURE.md): every module of `src/` uses only the layers below its
//! own. A `use crate::report` in `correlate`, or `read` reaching for `run`, fails here with the
//! file and line, so an arrow the wrong way is caught when it is written, not in a review.

use std::path::Path;

/// Layers, bottom first: a module may name modules of a lower rank only (its own folder's
/// files are one module). `main.rs` is above them all and `lib.rs` only lists them.
const LAYERS: &[&[&str]] = &[
    &["time", "settings", "error"],
    &["input"],
    &["parse"],
    &["stats"],
    &["correlate"],
    &["checks"],
    &["report"],
    &["read"],
    &["cli"],
    &["run"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The file's text without its `#[cfg(test)]` items (tests may drive the whole pipeline) and
/// without comments.
fn code_of(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i64> = None;
    let mut pending_test = false;
    for (no, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let opens = code.matches('{').count() as i64 - code.matches('}').count() as i64;
        if let Some(d) = skip_depth.as_mut() {
            *d += opens;
            if *d <= 0 {
                skip_depth = None;
            }
            continue;
        }
        if line.trim_start().starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        if pending_test {
            pending_test = false;
            if opens > 0 {
                skip_depth = Some(opens);
            }
            // A one-line item (`use ...;`) under cfg(test) is skipped too.
            continue;
        }
        out.push((no + 1, code.to_string()));
    }
    out
}

/// `crate::NAME` paths named in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(i, _)| {
            // `reqtrail::` in doc tests aside, only `crate::` itself (not `my_crate::`).
            *i == 0
                || !code.as_bytes()[i - 1].is_ascii_alphanumeric() && code.as_bytes()[i - 1] != b'_'
        })
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    let mut seen = 0;
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = first.trim_end_matches(".rs");
        if module == "main" || module == "lib" {
            continue;
        }
        let Some(own) = rank(module) else {
            wrong.push(format!(
                "src/{}: module {module} is in no layer of tests/layers.rs (and ARCHITECTURE.md)",
                rel.display()
            ));
            continue;
        };
        seen += 1;
        let text = std::fs::read_to_string(path).unwrap();
        for (no, code) in code_of(&text) {
            for used in crate_paths(&code) {
                if used == module {
                    continue;
                }
                match rank(&used) {
                    Some(r) if r < own => {}
                    Some(_) => wrong.push(format!(
                        "src/{}:{no}: {module} uses crate::{used}, a layer above or beside it",
                        rel.display()
                    )),
                    None => wrong.push(format!(
                        "src/{}:{no}: crate::{used} is in no layer",
                        rel.display()
                    )),
                }
            }
        }
    }
    assert!(seen > 40, "only {seen} files read: is src/ where it was?");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_what_it_must() {
    // Test code and comments are left out; code around them is kept.
    let text = "use crate::a;\n// crate::b\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\nuse crate::d; // crate::e\n";
    let named: Vec<String> = code_of(text)
        .iter()
        .flat_map(|(_, c)| crate_paths(c))
        .collect();
    assert_eq!(named, ["a", "d"]);
    assert!(crate_paths("reqtrail_crate::x my_crate::y").is_empty());
}
