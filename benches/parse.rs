//! Throughput of each parser family on real captured lines, and of the whole analysis.
//!
//! `cargo bench` prints MB/s per family; the end-to-end figure over a large generated log is
//! in scripts/bench.sh (it compares with rg and mawk, as users would).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use reqtrail::parse::LineParser;
use reqtrail::read::analyze_bytes_in;
use reqtrail::read::chunked::chunk_bytes;
use reqtrail::settings::Settings;

const SAMPLES: &[&str] = &[
    include_str!("../sample-logs/allowed_hosts/docker.log"),
    include_str!("../sample-logs/worker_timeout/docker.log"),
    include_str!("../sample-logs/healthy/docker.log"),
    include_str!("../sample-logs/boot_failure/docker.log"),
];

type Pick = fn(&str) -> bool;

/// The sample lines whose first bytes mark the family: gunicorn prefix, access line, other.
fn family(pick: Pick) -> Vec<u8> {
    let mut out = Vec::new();
    for s in SAMPLES {
        for l in s.lines().filter(|l| pick(l)) {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

fn parse_all(data: &[u8]) -> usize {
    let mut p = LineParser::default();
    let mut scratch = Vec::new();
    data.split(|&c| c == b'\n')
        .map(|l| std::hint::black_box(p.parse(l, &mut scratch)).pid.is_some() as usize)
        .sum()
}

fn parsers(c: &mut Criterion) {
    let families: [(&str, Pick); 4] = [
        ("middleware", |l| {
            l.contains("INCOMING REQUEST") || l.contains("RESPONSE:")
        }),
        ("gunicorn_lifecycle", |l| {
            l.starts_with("[20") && !l.contains("REQUEST") && !l.contains("RESPONSE")
        }),
        ("access", |l| l.contains("\" ") && l.contains(" - - [")),
        ("traceback", |l| {
            l.starts_with(' ') || l.starts_with("Traceback") || l.contains("Error:")
        }),
    ];
    let mut g = c.benchmark_group("parse");
    for (name, pick) in families {
        let data = family(pick);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse_all(&data)));
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let data: Vec<u8> = SAMPLES
        .iter()
        .flat_map(|s| s.bytes())
        .collect::<Vec<u8>>()
        .repeat(20);
    let settings = Arc::new(Settings::default());
    let mut g = c.benchmark_group("analyze");
    g.throughput(Throughput::Bytes(data.len() as u64));
    // As a run reads one input (chunks parsed on every core), and one line at a time.
    for (name, chunk) in [
        ("real_samples_x20", chunk_bytes()),
        ("real_samples_x20_by_line", None),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    analyze_bytes_in("bench", &data, &settings, chunk)
                        .traffic
                        .total
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, parsers, end_to_end);
criterion_main!(benches);
