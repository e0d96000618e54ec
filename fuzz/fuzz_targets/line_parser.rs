//! Arbitrary bytes, line by line, through the envelope stripper, the line parser and every
//! edge's parser.
//!
//! Oracles: no panic (overflow checks and debug assertions are on), no hang (`-timeout`), an
//! edge parser's leftover is the end of its line, and the two line splitters (memory-mapped
//! `split_lines`, streaming `read_lines`) agree.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use reqtrail::input::envelope::{Stripped, Unwrapper};
use reqtrail::input::{read_lines, split_lines};
use reqtrail::parse::atoms::PResult;
use reqtrail::parse::edge::{
    aws_alb, caddy, gcp_lb, haproxy, heroku, ingress_nginx, nginx, traefik, EdgeRecord,
};
use reqtrail::parse::{Event, LineParser};

/// A reader that hands out a few bytes at a time, so lines cross buffer boundaries.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn touch(event: &Event<'_>) {
    // Exercise the timestamps the parsers produced: formatting must not panic either.
    if let Event::Access(a) = event {
        if let Some(t) = a.time {
            let _ = t.to_rfc3339();
        }
    }
}

/// Every edge's parser on one line: none may panic, a text parser's leftover is the line's end.
fn edges(line: &[u8]) {
    type Text = for<'a> fn(&'a [u8]) -> PResult<'a, EdgeRecord<'a>>;
    let text: [Text; 7] = [
        nginx::nginx_combined,
        nginx::nginx_upstream_error,
        ingress_nginx::ingress_nginx_upstreaminfo,
        heroku::heroku_router,
        haproxy::haproxy_http,
        traefik::traefik_clf,
        aws_alb::aws_alb,
    ];
    for parse in text {
        if let Ok((rest, record)) = parse(line) {
            assert!(line.ends_with(rest), "leftover is not the end of the line");
            if let Some(t) = record.time {
                let _ = t.to_rfc3339();
            }
        }
    }
    for record in [
        caddy::caddy_json(line),
        traefik::traefik_json(line),
        gcp_lb::gcp_lb_json(line),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(t) = record.time {
            let _ = t.to_rfc3339();
        }
    }
}

fn collect_split(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    split_lines(data, &mut |l| out.push(l.to_vec()));
    out
}

fn collect_read(data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    read_lines(Trickle(data, chunk), &mut |l| out.push(l.to_vec())).expect("memory reads");
    out
}

fuzz_target!(|data: &[u8]| {
    // Raw lines straight into the parser (as if no envelope were there) …
    let mut raw_parser = LineParser::default();
    // … and the way the app does it: envelope first, then the parser on the payload.
    let mut parser = LineParser::default();
    let mut unwrapper = Unwrapper::default();
    let mut scratch = Vec::new();
    let mut parse_scratch = Vec::new();
    let mut lines = 0usize;
    split_lines(data, &mut |line| {
        lines += 1;
        parse_scratch.clear();
        let p = raw_parser.parse(line, &mut parse_scratch);
        if let Some(t) = p.time {
            let _ = t.to_rfc3339();
        }
        touch(&p.event);
        edges(line);
        scratch.clear();
        match unwrapper.strip(line, &mut scratch) {
            Stripped::Partial => {}
            Stripped::Line(u) => {
                if let Some(t) = u.time {
                    let _ = t.to_rfc3339();
                }
                parse_scratch.clear();
                let p = parser.parse(&u.payload, &mut parse_scratch);
                touch(&p.event);
            }
        }
    });

    let expected = data.split(|&c| c == b'\n').count() - usize::from(data.ends_with(b"\n"));
    let expected = if data.is_empty() { 0 } else { expected };
    assert_eq!(lines, expected, "split_lines line count");

    let split = collect_split(data);
    let chunk = 1 + data.first().map_or(0, |&c| usize::from(c % 7));
    assert_eq!(
        split,
        collect_read(data, chunk),
        "split_lines and read_lines disagree"
    );
});
