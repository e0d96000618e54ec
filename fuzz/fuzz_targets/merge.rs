//! Arbitrary bytes dealt into several inputs, merged by time as `reqtrail a.log b.log …` does.
//!
//! Oracles: no panic, no hang, every line of every input counted, and the merge of inputs read
//! in chunks (of a size the input picks, parsed on every core) gives the very analysis that the
//! line-by-line merge gives. The first byte picks how many inputs there are and how the lines
//! are dealt: round-robin (the inputs' times interleave, tracebacks are torn apart) or cut into
//! consecutive pieces (rotated files).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use reqtrail::read::analyze_merged_bytes_in;
use reqtrail::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let n = 2 + usize::from(pick % 3);
    let round_robin = pick & 0x80 != 0;
    let mut parts = vec![Vec::new(); n];
    let lines: Vec<&[u8]> = data.split_inclusive(|&c| c == b'\n').collect();
    for (k, line) in lines.iter().enumerate() {
        let part = if round_robin {
            k % n
        } else {
            k * n / lines.len()
        };
        parts[part].extend_from_slice(line);
    }
    let names: Vec<String> = (0..n).map(|k| format!("part{k}.log")).collect();
    let inputs: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&parts)
        .map(|(name, part)| (name.as_str(), part.as_slice()))
        .collect();

    let settings = Arc::new(Settings::default());
    let by_line = analyze_merged_bytes_in(&inputs, &settings, None);
    // A line cut from its newline at the end of one part is a whole line of its own there.
    let counted: usize = parts
        .iter()
        .map(|p| p.split(|&c| c == b'\n').count() - usize::from(p.is_empty() || p.ends_with(b"\n")))
        .sum();
    assert_eq!(by_line.input.lines, counted as u64, "every line counted");

    let chunk = 1 + usize::from(pick & 0x7c) * 8;
    let chunked = analyze_merged_bytes_in(&inputs, &settings, Some(chunk));
    // Both feed the pipeline the same lines in the same order, so even its hash maps match.
    assert!(
        format!("{by_line:?}") == format!("{chunked:?}"),
        "chunks of {chunk} bytes change the merged analysis"
    );
});
