//! Bytes in: files (plain, gzip or zstd, by their first bytes), directories of them, pipes and
//! stdin, read through one buffer and cut into lines.
//!
//! Lines are cut at `\n`; a trailing `\r` is dropped; a last line without newline still counts.
//! A line longer than [`MAX_LINE`] is cut to that length for parsing and still counts as one line,
//! so a 50 MB line of junk costs neither memory nor time. Files are read, never memory-mapped: a
//! log rotated with `copytruncate` (or any writer truncating it) while a map is being read raises
//! SIGBUS and kills the process; buffered reads just see the file end early, and are as fast on
//! these line scans. Measured on 1 GiB: chunks borrowed from a map took 1.75 s against 1.65 s
//! read, and 1.66 s with each batch's pages mapped ahead (`MADV_POPULATE_READ`): the copy the
//! kernel no longer makes comes back as cache misses when the chunks are parsed.

pub mod envelope;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::Error;

/// Told how far reading has got, for a progress bar (`report::progress` draws one).
/// Here, below every stage, so that the bar's drawing and the reading both depend on it.
pub trait Progress: Sync {
    /// Reading starts; `total`: the inputs' size in bytes, when known (files, not pipes).
    fn start(&self, total: Option<u64>);
    /// `bytes` more of the inputs were read.
    fn advance(&self, bytes: u64);
    fn finish(&self);
}

/// No progress to show.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

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

    /// Whether it is all there when read: a file (or a directory of them), not a stream (stdin,
    /// a pipe, a device) whose lines come over time and should be answered as they come.
    pub fn is_at_rest(&self) -> bool {
        match self {
            Source::Stdin => false,
            Source::Path(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir()),
        }
    }
}

/// A line as handed out: without a trailing `\r`, at most [`MAX_LINE`] bytes.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    &line[..line.len().min(MAX_LINE)]
}

/// A JSON line read as `serde_json::from_slice` reads it: through `from_str` when the line is
/// valid UTF-8, which gives the same answer with the bytes checked once, not once more for every
/// string (`from_slice` validates each string it reads; a short string's check cost ~100
/// instructions). Here, below every stage, for the envelope's JSON and the parsers'.
pub fn json_line<'a, T: serde::Deserialize<'a>>(line: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

/// Whether a byte is escaped in a JSON string (as serde_json escapes: quotes, backslashes
/// and control characters below 0x20), and so may not stand in one as it is.
pub fn json_escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether no byte of `bytes` is [`json_escaped`] (nor, if `ASCII`, above 0x7f): most text,
/// tested eight bytes at a time (a byte below 0x20, or equal to `"` or `\\`, sets the top bit
/// of its lane). Here, below every stage, for the JSON the envelope reads and the JSON the
/// report writes.
pub fn json_plain<const ASCII: bool>(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    if !words.by_ref().all(word_plain::<ASCII>) {
        return false;
    }
    match bytes.len() {
        // The last eight bytes again (overlapping the words tested), rather than byte by byte.
        8.. => word_plain::<ASCII>(&bytes[bytes.len() - 8..]),
        _ => !words
            .remainder()
            .iter()
            .any(|&b| json_escaped(b) || (ASCII && !b.is_ascii())),
    }
}

/// Whether none of eight bytes is [`json_escaped`] (nor, if `ASCII`, above 0x7f).
fn word_plain<const ASCII: bool>(word: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let zero_in = |w: u64| w.wrapping_sub(ONES) & !w & TOPS;
    let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
    let low = w.wrapping_sub(ONES * 0x20) & !w & TOPS;
    let high = if ASCII { w & TOPS } else { 0 };
    low | high | zero_in(w ^ (ONES * b'"' as u64)) | zero_in(w ^ (ONES * b'\\' as u64)) == 0
}

/// Where `piece` starts in `whole`, when it is a slice of it (not merely equal bytes elsewhere):
/// what a stage borrowed from a line can then be kept as a place in it instead of a copy.
pub fn offset_in(whole: &[u8], piece: &[u8]) -> Option<usize> {
    let k = (piece.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (k + piece.len() <= whole.len()).then_some(k)
}

/// Where `needle` first is in `hay` (not empty): its first byte found by memchr, the rest
/// compared there. For a short needle searched once in a short text (a syslog tag's `: `), where
/// `memmem::find` would build its searcher for every call.
pub(crate) fn find_once(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, hay).find(|&k| hay[k + 1..].starts_with(rest))
}

/// Where the first of `needles` is in `hay`, eight bytes at a time: the fields it ends (an
/// address, a URI, a path, a pod's name) are a few words long, where a memchr call costs more
/// than the scan.
#[inline(always)]
pub(crate) fn find_short<const K: usize>(hay: &[u8], needles: [u8; K]) -> Option<usize> {
    const LOW: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A byte equal to a needle is zero in `w ^ needle`; the lowest byte flagged by the
        // zero-byte test is always a true one (a borrow only flags bytes above a zero).
        let hits = needles.iter().fold(0, |hits, &n| {
            let x = w ^ (LOW * u64::from(n));
            hits | (x.wrapping_sub(LOW) & !x & HIGH)
        });
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|c| needles.contains(c))
        .map(|k| at + k)
}

/// Bit `k` set: `block[k]` is one of `needles`. The 32 bytes are compared at once (`wide`'s
/// vector compares), for scans of whole blocks where a memchr call per line or field costs
/// more in set-up than the scan.
#[inline]
pub fn bytes_mask<const K: usize>(block: &[u8; 32], needles: [u8; K]) -> u32 {
    use wide::u8x32;
    let v = u8x32::new(*block);
    let hits = needles.map(|n| v.simd_eq(u8x32::splat(n)));
    hits.into_iter()
        .reduce(|x, y| x | y)
        .map_or(0, |h| h.to_bitmask())
}

/// Where the newlines of `data` are, in order: as `memchr::memchr_iter(b'\n', data)`, found a
/// block of 64 bytes at a time (a mask of its newlines, then a bit per line), where memchr's
/// search, begun again for each line of ~100 bytes, cost ~95 instructions a line.
pub fn newlines(data: &[u8]) -> Newlines<'_> {
    let blocks = data.chunks_exact(64);
    Newlines {
        tail: blocks.remainder(),
        blocks,
        next: 0,
        mask: 0,
    }
}

/// The iterator [`newlines`] returns.
pub struct Newlines<'a> {
    blocks: std::slice::ChunksExact<'a, u8>,
    /// The bytes past the last whole block (emptied once read).
    tail: &'a [u8],
    /// Offset of the next block to read: `mask` is of the block 64 bytes before.
    next: usize,
    /// That block's newlines not yet handed out: bit `k` for its byte `k`.
    mask: u64,
}

/// Bit `k` set: `block[k]` is a newline (`block` is 64 bytes).
#[inline]
fn newline_mask(block: &[u8]) -> u64 {
    let half = |h: &[u8]| h.first_chunk().map_or(0, |h| bytes_mask(h, [b'\n']));
    u64::from(half(block)) | u64::from(half(&block[32..])) << 32
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.mask = match self.blocks.next() {
                Some(block) => newline_mask(block),
                None if self.tail.is_empty() => return None,
                None => {
                    // The last bytes, once: padded to a block.
                    let mut block = [0; 64];
                    block[..self.tail.len()].copy_from_slice(self.tail);
                    self.tail = &[];
                    newline_mask(&block)
                }
            };
            self.next += 64;
        }
        let k = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.next - 64 + k)
    }
}

/// Calls `f` with each line of `data`.
pub fn split_lines(data: &[u8], f: &mut dyn FnMut(&[u8])) {
    let mut start = 0;
    for nl in newlines(data) {
        f(trim_line(&data[start..nl]));
        start = nl + 1;
    }
    if start < data.len() {
        f(trim_line(&data[start..]));
    }
}

/// Lines from a reader, one at a time, holding at most [`MAX_LINE`] bytes of a line; a line
/// that fits in the buffer is handed out without a copy.
pub struct LineReader<'r> {
    reader: Box<dyn Read + Send + 'r>,
    /// Made at the first read (and made again at a read after `size` changed): an input of a
    /// merge that is told to read less never holds the full size.
    buf: Box<[u8]>,
    /// Bytes it reads at a time.
    size: usize,
    pos: usize,
    len: usize,
    eof: bool,
    line: Vec<u8>,
    /// Being followed: an unfinished last line is not handed out yet.
    following: bool,
    /// `line` holds the start of an unfinished line.
    waiting: bool,
    /// Bytes taken from the source so far (compressed bytes for a compressed file).
    taken: Arc<AtomicU64>,
    /// The most bytes it reads at a time.
    widest: usize,
    /// The file it reads, as it was when opened (see [`LineReader::is_stale`]).
    opened: Option<FileId>,
    /// It reads an uncompressed regular file: a read is a copy from the page cache, with no
    /// writer to wait for and nothing to decode.
    plain_file: bool,
    /// A read failed after whole lines [`LineReader::read_lines_in_place`] handed out: the
    /// next call returns it.
    failed: Option<io::Error>,
}

/// Which file a path named, and when: another file by that name later (rotated by renaming, or
/// deleted and made again) has another id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    fn of(m: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId(m.dev(), m.ino()))
    }

    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<FileId> {
        None
    }
}

/// A reader that counts the bytes it hands out.
struct Counted<R> {
    inner: R,
    taken: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<'r> LineReader<'r> {
    pub fn new(reader: Box<dyn Read + Send + 'r>) -> LineReader<'r> {
        // REQTRAIL_READ_CHUNK shrinks the buffer, for the tests that check that where reads
        // cut the input changes nothing.
        let size = std::env::var("REQTRAIL_READ_CHUNK")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(256 * 1024);
        LineReader {
            reader,
            buf: Box::default(),
            size,
            pos: 0,
            len: 0,
            eof: false,
            line: Vec::new(),
            following: false,
            waiting: false,
            taken: Arc::default(),
            widest: size,
            opened: None,
            plain_file: false,
            failed: None,
        }
    }

    /// How many bytes of the source have been read (before decompression), for progress.
    pub fn bytes_taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    fn fill(&mut self) -> io::Result<()> {
        // Nothing in the buffer is wanted any more.
        if self.buf.len() != self.size {
            self.buf = vec![0; self.size].into_boxed_slice();
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a file as it grows (`tail -f`): a last line without its newline is kept until
    /// the rest of it is written, instead of being handed out cut in two.
    pub fn following(mut self) -> LineReader<'r> {
        self.following = true;
        self
    }

    /// Reads at most `size` bytes at a time (before the first read): for the many inputs of a
    /// merge, each with its own buffer.
    pub fn reading_at_most(mut self, size: usize) -> LineReader<'r> {
        if self.len == 0 && size > 0 && size < self.size {
            self.size = size;
        }
        self
    }

    /// Reads up to `size` bytes at a time from now on (but no more than it first did), if that
    /// is more than it does: for an input of a merge that is being taken.
    pub fn reading_up_to(&mut self, size: usize) {
        self.size = self.size.max(size.min(self.widest));
    }

    /// After the end: look again (the file may have grown).
    pub fn resume(&mut self) {
        self.eof = false;
    }

    /// Whether it reads an uncompressed regular file (see [`open`]): its reads only copy bytes,
    /// rather than wait for a writer or decode them.
    pub fn is_plain_file(&self) -> bool {
        self.plain_file
    }

    /// Whether `path`, the file this reads, no longer leads to what it has been reading: another
    /// file has its name (rotated by renaming, or deleted and made again), or it was cut shorter
    /// than what was read (rotated with `copytruncate`). A file that is gone, or can't be looked
    /// at, is not stale: it may come back, and what was opened can still grow.
    pub fn is_stale(&self, path: &Path) -> bool {
        let Ok(now) = std::fs::metadata(path) else {
            return false;
        };
        let replaced = matches!((self.opened, FileId::of(&now)), (Some(a), Some(b)) if a != b);
        replaced || now.len() < self.bytes_taken()
    }

    /// The next line, or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        Ok(self.next_untrimmed()?.map(trim_line))
    }

    /// The next line with its `\r` (if any) still on, cut at `MAX_LINE + 1` bytes.
    fn next_untrimmed(&mut self) -> io::Result<Option<&[u8]>> {
        // A line cut short by a writer still writing waits in `line` (see `resume`).
        let mut carrying = std::mem::take(&mut self.waiting);
        if !carrying {
            self.line.clear();
        }
        loop {
            if self.pos == self.len {
                if !self.eof {
                    self.fill()?;
                }
                if self.eof {
                    if carrying && self.following {
                        self.waiting = true;
                        return Ok(None);
                    }
                    return Ok(carrying.then_some(&self.line[..]));
                }
            }
            let avail = &self.buf[self.pos..self.len];
            match memchr::memchr(b'\n', avail) {
                Some(k) if !carrying => {
                    let start = self.pos;
                    self.pos += k + 1;
                    return Ok(Some(&self.buf[start..start + k]));
                }
                Some(k) => {
                    let room = (MAX_LINE + 1).saturating_sub(self.line.len());
                    self.line.extend_from_slice(&avail[..k.min(room)]);
                    self.pos += k + 1;
                    return Ok(Some(&self.line[..]));
                }
                None => {
                    let room = (MAX_LINE + 1).saturating_sub(self.line.len());
                    self.line.extend_from_slice(&avail[..avail.len().min(room)]);
                    self.pos = self.len;
                    carrying = true;
                }
            }
        }
    }
}

impl LineReader<'_> {
    /// Appends whole lines to `out`, each followed by `\n`, until it holds at least `target`
    /// bytes or the input ends; returns how many bytes (0: the end). The lines are as read: cut
    /// each with [`trim_line`] (as [`split_lines`] does) to get what [`LineReader::next_line`]
    /// gives. Lines already in the buffer are copied at once.
    pub fn read_lines_into(&mut self, out: &mut Vec<u8>, target: usize) -> io::Result<usize> {
        let before = out.len();
        while out.len() < target {
            if !self.waiting && self.pos < self.len {
                let avail = &self.buf[self.pos..self.len];
                let want = avail.len().min(target - out.len());
                // Up to the last newline within what is wanted, else through the first one.
                let end = memchr::memrchr(b'\n', &avail[..want])
                    .or_else(|| memchr::memchr(b'\n', &avail[want..]).map(|k| k + want));
                if let Some(end) = end {
                    out.extend_from_slice(&avail[..=end]);
                    self.pos += end + 1;
                    continue;
                }
            }
            // A line that crosses the buffer's end (or the end of the input).
            let Some(line) = self.next_untrimmed()? else {
                break;
            };
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        Ok(out.len() - before)
    }
}

impl LineReader<'_> {
    /// As [`LineReader::read_lines_into`], without copying the input once more: reads straight
    /// into `buf` and returns `n`, the bytes of whole lines (each followed by `\n`) now at
    /// `buf[..n]` (0: the end). `buf` is room, kept at its length from call to call so that it
    /// is zeroed only when it grows; what lies past `n` means nothing. The lines end at or
    /// before `target` bytes (the last line cut in two waits for the next call), unless the
    /// first line alone is longer.
    pub fn read_lines_in_place(&mut self, buf: &mut Vec<u8>, target: usize) -> io::Result<usize> {
        let target = target.max(1);
        if self.waiting {
            // A line cut short while following: the copying way finishes it.
            return self.line_by_copy(buf);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if buf.is_empty() {
            // Asked zeroed from the allocator, which need not clear memory fresh from the
            // system (already zero): a resize would write every byte (256 KiB a chunk).
            *buf = vec![0; target];
        } else if buf.len() < target {
            buf.resize(target, 0);
        }
        // What the last call read past its last line comes first.
        let held = (self.len - self.pos).min(target);
        buf[..held].copy_from_slice(&self.buf[self.pos..self.pos + held]);
        self.pos += held;
        let mut n = held;
        let mut read = false;
        while n < target && !self.eof && self.pos == self.len {
            let end = target.min(n + self.size);
            match self.reader.read(&mut buf[n..end]) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    n += k;
                    read = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The whole lines read before it are handed out first.
                    self.failed = Some(e);
                    break;
                }
            }
        }
        let whole = memchr::memrchr(b'\n', &buf[..n]).map_or(0, |k| k + 1);
        self.hold(&buf[whole..n], read);
        if whole > 0 {
            return Ok(whole);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        // Not one whole line in `target` bytes (or the last line has no newline): that line
        // alone, the way lines that cross the buffer's end are taken.
        self.line_by_copy(buf)
    }

    /// Keeps `rest`, bytes taken but not handed out, to come first next time: they were read
    /// from the source just now (`read`), or they are the end of what was held.
    fn hold(&mut self, rest: &[u8], read: bool) {
        if !read {
            self.pos -= rest.len();
        } else {
            if rest.len() > self.buf.len() {
                // None made yet, or a line longer than it: `fill` makes it again at its size.
                self.buf = vec![0; rest.len().max(self.size)].into_boxed_slice();
            }
            self.buf[..rest.len()].copy_from_slice(rest);
            (self.pos, self.len) = (0, rest.len());
        }
    }

    /// One line taken as [`LineReader::next_line`] takes it (cut at `MAX_LINE + 1` bytes),
    /// written with its `\n` at the start of `buf`; returns its length with the `\n` (0: the
    /// end).
    fn line_by_copy(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let Some(line) = self.next_untrimmed()? else {
            return Ok(0);
        };
        let n = line.len() + 1;
        if buf.len() < n {
            buf.resize(n, 0);
        }
        buf[..n - 1].copy_from_slice(line);
        buf[n - 1] = b'\n';
        Ok(n)
    }
}

/// Calls `f` with each line read from `reader`.
pub fn read_lines(reader: impl Read + Send, f: &mut dyn FnMut(&[u8])) -> io::Result<()> {
    let mut lines = LineReader::new(Box::new(reader));
    while let Some(line) = lines.next_line()? {
        f(line);
    }
    Ok(())
}

/// Wraps `reader` in a decompressor when its first bytes are gzip's or zstd's magic number.
fn decompressing(mut reader: Box<dyn Read + Send>) -> io::Result<(Box<dyn Read + Send>, bool)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head[..n].to_vec()).chain(reader));
    Ok(match head[..n] {
        [0x1f, 0x8b, ..] => (Box::new(flate2::read::MultiGzDecoder::new(whole)), true),
        [0x28, 0xb5, 0x2f, 0xfd] => (Box::new(zstd::stream::read::Decoder::new(whole)?), true),
        _ => (whole, false),
    })
}

/// Opens a source for reading lines, decompressing when it is compressed.
pub fn open(source: &Source) -> Result<LineReader<'static>, Error> {
    let io_err = |e| Error::Io {
        path: source.name(),
        source: e,
    };
    let taken = Arc::new(AtomicU64::new(0));
    let counted = |inner: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
        let taken = taken.clone();
        Box::new(Counted { inner, taken })
    };
    let (mut opened, mut regular) = (None, false);
    let reader: Box<dyn Read + Send> = match source {
        Source::Stdin => counted(Box::new(io::stdin())),
        Source::Path(p) => {
            let file = File::open(p).map_err(io_err)?;
            let meta = file.metadata().map_err(io_err)?;
            if meta.is_dir() {
                return Err(Error::IsDirectory {
                    path: source.name(),
                });
            }
            opened = FileId::of(&meta);
            regular = meta.is_file();
            counted(Box::new(file))
        }
    };
    let (reader, compressed) = decompressing(reader).map_err(io_err)?;
    let mut lines = LineReader::new(reader);
    lines.taken = taken;
    lines.plain_file = regular && !compressed;
    lines.opened = opened;
    Ok(lines)
}

/// Replaces each directory by the files in it (not recursing; hidden files skipped), sorted by
/// name. A directory that cannot be listed is an error; the other sources stay. A file named
/// twice (`*.log error.log`, or a link beside the file it points to) is read once, where it
/// first comes: its lines twice over would be twice the requests.
pub fn expand(sources: &[Source]) -> (Vec<Source>, Vec<Error>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for s in sources {
        let Source::Path(p) = s else {
            out.push(s.clone());
            continue;
        };
        if !p.is_dir() {
            out.push(s.clone());
            continue;
        }
        match list_dir(p) {
            Ok(files) if files.is_empty() => errors.push(Error::Io {
                path: s.name(),
                source: io::Error::new(io::ErrorKind::NotFound, "the directory holds no log files"),
            }),
            Ok(files) => out.extend(files.into_iter().map(Source::Path)),
            Err(e) => errors.push(Error::Io {
                path: s.name(),
                source: e,
            }),
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| match s {
        Source::Path(p) => {
            seen.insert(Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
        }
        Source::Stdin => seen.insert(None),
    });
    (out, errors)
}

fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // Symlinks are followed: /var/log/containers/*.log are links to the kubelet's files.
        // Dangling links, FIFOs, sockets and subdirectories are not log files.
        let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        if !hidden && is_file {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json_line` answers as `serde_json::from_slice`: the same values, borrowed alike, on
    /// valid UTF-8 with and without escapes, and on lines with invalid UTF-8 in a string that is
    /// read, in one that is skipped, and outside any string.
    #[test]
    fn json_lines_read_as_from_slice_reads_them() {
        type Pair<'a> = (std::borrow::Cow<'a, str>, serde::de::IgnoredAny);
        let lines: [&[u8]; 7] = [
            br#"["plain", 1]"#,
            br#"["esc\"aped \u00e9", {"a": [1, "b"]}]"#,
            b"[\"caf\xc3\xa9\", null]",
            b"[\"bad \xff\", null]",
            b"[\"ok\", {\"skipped\": \"bad \xff\"}]",
            b"[\"ok\", 1] \xff",
            br#"["cut", "#,
        ];
        for line in lines {
            let ours = json_line::<Pair>(line);
            let theirs = serde_json::from_slice::<Pair>(line);
            let text = String::from_utf8_lossy(line);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{text}");
            if let (Ok(a), Ok(b)) = (ours, theirs) {
                assert_eq!(a.0, b.0, "{text}");
                let borrowed =
                    |c: &std::borrow::Cow<str>| matches!(c, std::borrow::Cow::Borrowed(_));
                assert_eq!(borrowed(&a.0), borrowed(&b.0), "{text}");
            }
        }
    }

    /// The word-at-a-time test answers as the definition does: every byte value at every place
    /// of every length up to 17, among plain letters, among bytes of 0x80 and above, and among
    /// spaces; with and without ASCII asked for.
    #[test]
    fn json_plain_answers_as_a_scan_does() {
        for fill in [b'a', 0x80, 0xff, 0x20] {
            for len in 0..=17 {
                for at in 0..len {
                    for c in 0..=255u8 {
                        let mut s = vec![fill; len];
                        s[at] = c;
                        let escaped = s.iter().any(|&b| json_escaped(b));
                        assert_eq!(json_plain::<false>(&s), !escaped, "{s:?}");
                        let ascii = !escaped && s.is_ascii();
                        assert_eq!(json_plain::<true>(&s), ascii, "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn find_once_finds_the_first_occurrence_as_memmem_does() {
        for hay in [
            &b""[..],
            b":",
            b": ",
            b"a:b: c",
            b"py:wsgi: x",
            b"x]]: y]: z",
            b"::  ",
        ] {
            for needle in [&b": "[..], b"]: ", b":", b"z"] {
                assert_eq!(
                    find_once(hay, needle),
                    memchr::memmem::find(hay, needle),
                    "{hay:?} {needle:?}"
                );
            }
        }
    }

    #[test]
    fn find_short_finds_the_first_needle_as_a_scan_would() {
        let hays: [&[u8]; 7] = [
            b"",
            b"10.0.0.1 - - [",
            b"10.0.0.1",
            b"abcdefgh ijklmnop\"",
            b"abcdefghijklmnopqrstuvw\"x",
            b"\x01\x00\xff\x80 \x20[",
            b"::1\"\\ ",
        ];
        for hay in hays {
            for k in 0..=hay.len() {
                let needles = [b' ', b'"', b'\\'];
                let scan = hay[k..].iter().position(|c| needles.contains(c));
                assert_eq!(find_short(&hay[k..], needles), scan, "{hay:?} from {k}");
            }
        }
        // Every byte value, at every place of a word and past it.
        for n in 0..=255u8 {
            for at in 0..20 {
                let mut hay = vec![n.wrapping_add(1); 20];
                hay[at] = n;
                assert_eq!(find_short(&hay, [n]), Some(at));
                assert_eq!(find_short(&hay, [n.wrapping_add(2), n]), Some(at));
            }
        }
    }

    /// The newlines found a block at a time are memchr's, wherever they fall: at a block's
    /// first or last byte, in the bytes past the last whole block, in a row, or nowhere.
    #[test]
    fn newlines_are_where_memchr_finds_them() {
        let mut cases: Vec<Vec<u8>> = vec![vec![], b"\n".to_vec(), vec![b'x'; 200]];
        for len in [1, 63, 64, 65, 127, 128, 129, 300] {
            for at in [0, 31, 32, 62, 63, 64, 65, len - 1] {
                let mut v = vec![b'a'; len];
                if at < len {
                    v[at] = b'\n';
                }
                cases.push(v);
            }
            cases.push(vec![b'\n'; len]);
            cases.push(
                (0..len)
                    .map(|k| if k % 7 == 0 { b'\n' } else { b'y' })
                    .collect(),
            );
        }
        for v in &cases {
            let want: Vec<usize> = memchr::memchr_iter(b'\n', v).collect();
            assert_eq!(newlines(v).collect::<Vec<_>>(), want, "{v:?}");
        }
    }

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
    fn chunks_hold_the_same_lines() {
        let mut long = vec![b'x'; MAX_LINE * 2 + 3];
        long.extend_from_slice(b"\r\nafter\r\r\n");
        let cases: [&[u8]; 7] = [
            b"",
            b"a\nb\n",
            b"a\r\nb",
            b"\n\n\n",
            b"x\x00y\xff\n",
            b"a\r\r\nb\rc\n",
            &long,
        ];
        for data in cases {
            for target in [1, 2, 7, 1 << 20] {
                let mut reader = LineReader::new(Box::new(io::Cursor::new(data.to_vec())));
                let mut chunked = Vec::new();
                loop {
                    let mut out = Vec::new();
                    let n = reader.read_lines_into(&mut out, target).unwrap();
                    assert_eq!(n, out.len());
                    if n == 0 {
                        break;
                    }
                    assert!(out.ends_with(b"\n"), "whole lines only");
                    split_lines(&out, &mut |l| chunked.push(l.to_vec()));
                }
                assert_eq!(chunked, collect_split(data), "{target}: {data:?}");
                // Read in place, through a buffer kept from chunk to chunk.
                let mut reader = LineReader::new(Box::new(io::Cursor::new(data.to_vec())));
                let (mut in_place, mut buf) = (Vec::new(), Vec::new());
                loop {
                    let n = reader.read_lines_in_place(&mut buf, target).unwrap();
                    if n == 0 {
                        break;
                    }
                    assert!(buf[..n].ends_with(b"\n"), "whole lines only");
                    split_lines(&buf[..n], &mut |l| in_place.push(l.to_vec()));
                }
                assert_eq!(in_place, collect_split(data), "{target}: {data:?}");
            }
        }
    }

    /// A read that fails after whole lines: they are handed out first, the error next, as
    /// the lines read before a failure were.
    #[test]
    fn in_place_lines_before_a_failed_read_come_first() {
        struct Failing(Option<&'static [u8]>);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some(data) = self.0.take() else {
                    return Err(io::Error::other("disk gone"));
                };
                buf[..data.len()].copy_from_slice(data);
                Ok(data.len())
            }
        }
        let mut reader = LineReader::new(Box::new(Failing(Some(b"one\ntwo\nthr"))));
        let mut buf = Vec::new();
        let n = reader.read_lines_in_place(&mut buf, 1 << 20).unwrap();
        assert_eq!(&buf[..n], b"one\ntwo\n");
        let e = reader.read_lines_in_place(&mut buf, 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
    }

    #[test]
    fn offsets_of_slices_not_of_copies() {
        let line = b"GET /health/ from 10.0.0.1".to_vec();
        assert_eq!(offset_in(&line, &line[4..12]), Some(4));
        assert_eq!(offset_in(&line, &line[line.len()..]), Some(line.len()));
        assert_eq!(offset_in(&line[..10], &line[4..12]), None, "past the end");
        assert_eq!(
            offset_in(&line[5..], &line[4..12]),
            None,
            "before the start"
        );
        let copy = line[4..12].to_vec();
        assert_eq!(offset_in(&line, &copy), None, "equal bytes elsewhere");
    }

    /// A reader asked to read at most N bytes at a time never asks its source for more, and
    /// hands out the same lines; let read up to more later, it does (up to its first size).
    #[test]
    fn reading_at_most_and_up_to_bound_each_read() {
        struct Widest(io::Cursor<Vec<u8>>, Arc<AtomicU64>);
        impl Read for Widest {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1.fetch_max(buf.len() as u64, Ordering::Relaxed);
                self.0.read(buf)
            }
        }
        let data: Vec<u8> = (0..5000)
            .flat_map(|k| format!("line {k}\n").into_bytes())
            .collect();
        let widest = Arc::new(AtomicU64::new(0));
        let source = Widest(io::Cursor::new(data.clone()), widest.clone());
        let mut reader = LineReader::new(Box::new(source)).reading_at_most(1000);
        let mut lines = Vec::new();
        while let Some(l) = reader.next_line().unwrap() {
            lines.push(l.to_vec());
            // Halfway, it is let read more at a time: up to the most it first read.
            if lines.len() == 2500 {
                assert_eq!(widest.load(Ordering::Relaxed), 1000);
                reader.reading_up_to(4000);
            }
        }
        assert_eq!(lines, collect_split(&data));
        assert_eq!(widest.load(Ordering::Relaxed), 4000);
        let reader = LineReader::new(Box::new(io::Cursor::new(data)));
        let first = reader.size;
        let mut reader = reader.reading_at_most(1000);
        reader.reading_up_to(usize::MAX);
        assert_eq!(reader.size, first, "no more than it first read");
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
