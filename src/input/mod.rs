//! Bytes in: files, pipes and stdin, read through one buffer and cut into lines.
//!
//! Lines are cut at `\n`; a trailing `\r` is dropped; a last line without newline still counts.
//! A line longer than [`MAX_LINE`] is cut to that length for parsing and still counts as one line,
//! so a 50 MB line of junk costs neither memory nor time.

pub mod envelope;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use crate::error::Error;

/// Longest line handed to the parsers; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    Path(PathBuf),
}

impl Source {
    /// The name used in evidence and error messages.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::Path(p) => p.display().to_string(),
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    &line[..line.len().min(MAX_LINE)]
}

/// Calls `f` with each line of `data`.
pub fn split_lines(data: &[u8], f: &mut dyn FnMut(&[u8])) {
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        f(trim_line(&data[start..nl]));
        start = nl + 1;
    }
    if start < data.len() {
        f(trim_line(&data[start..]));
    }
}

/// Calls `f` with each line read from `reader`, holding at most [`MAX_LINE`] bytes of a line.
pub fn read_lines(reader: impl Read, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut carry: Vec<u8> = Vec::new();
    let mut carrying = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if carrying {
                f(trim_line(&carry));
            }
            return Ok(());
        }
        let len = buf.len();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', buf) {
            if carrying {
                let room = MAX_LINE + 1 - carry.len().min(MAX_LINE + 1);
                carry.extend_from_slice(&buf[start..nl][..(nl - start).min(room)]);
                f(trim_line(&carry));
                carry.clear();
                carrying = false;
            } else {
                f(trim_line(&buf[start..nl]));
            }
            start = nl + 1;
        }
        if start < len {
            let room = MAX_LINE + 1 - carry.len().min(MAX_LINE + 1);
            carry.extend_from_slice(&buf[start..][..(len - start).min(room)]);
            carrying = true;
        }
        reader.consume(len);
    }
}

/// Calls `f` with every line of `source`.
pub fn for_each_line(source: &Source, f: &mut dyn FnMut(&[u8])) -> Result<(), Error> {
    let path = match source {
        Source::Stdin => {
            let stdin = io::stdin();
            return read_lines(stdin.lock(), f).map_err(|e| Error::Io {
                path: source.name(),
                source: e,
            });
        }
        Source::Path(p) => p,
    };
    let io_err = |e| Error::Io {
        path: source.name(),
        source: e,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(Error::IsDirectory {
            path: source.name(),
        });
    }
    // Files are read, never memory-mapped: a log rotated with `copytruncate` (or any writer
    // truncating it) while a map is being read raises SIGBUS and kills the process. Buffered
    // reads see the file end early instead, and are as fast as the map on these line scans.
    read_lines(file, f).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_split(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        split_lines(data, &mut |l| out.push(l.to_vec()));
        out
    }

    fn collect_read(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        // A reader that returns a few bytes at a time, to cross buffer boundaries.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        read_lines(Trickle(data), &mut |l| out.push(l.to_vec())).unwrap();
        out
    }

    #[test]
    fn both_readers_agree() {
        for data in [
            &b""[..],
            b"\n",
            b"a\nb\n",
            b"a\r\nb",
            b"no newline",
            b"\n\n\n",
            b"x\x00y\xff\n",
        ] {
            assert_eq!(collect_split(data), collect_read(data), "{data:?}");
        }
        assert_eq!(collect_split(b"a\r\nb").len(), 2);
        assert_eq!(collect_split(b"a\r\nb")[0], b"a");
        assert!(collect_split(b"").is_empty());
    }

    #[test]
    fn huge_line_is_cut_but_counted() {
        let mut data = vec![b'x'; MAX_LINE * 3];
        data.extend_from_slice(b"\nnext\n");
        for lines in [collect_split(&data), collect_read(&data)] {
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0].len(), MAX_LINE);
            assert_eq!(lines[1], b"next");
        }
    }
}
