//! One log line (its envelope already stripped) → one typed [`Event`] borrowing the line.
//!
//! Per-line parsing is pure except for continuation lines (traceback frames, the gunicorn config
//! dump), whose meaning depends on the record above them: [`LineParser`] keeps that one bit of
//! context per stream. Nothing here prints or allocates per line.

pub mod access;
pub mod atoms;
pub mod client;
pub mod django;
pub mod edge;
mod fast;
pub mod gunicorn;
pub mod layouts;
pub mod structured;
pub mod traceback;

use std::sync::Arc;

use crate::settings::Patterns;

pub use access::Access;
pub use atoms::{Level, Ts};

/// What one line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    // gunicorn master and workers (see gunicorn.rs for the templates)
    Starting {
        version: &'a [u8],
    },
    Listening {
        addrs: &'a [u8],
    },
    UsingWorker {
        class: &'a [u8],
    },
    Booting {
        pid: u32,
    },
    WorkerTimeout {
        pid: u32,
    },
    /// `exited with code N` (`period`: the 21–23 twin line ending in `.`).
    WorkerExitCode {
        pid: u32,
        code: u32,
        period: bool,
    },
    /// `was sent SIGKILL!` (`oom_hint`: followed by `Perhaps out of memory?`).
    WorkerSignalled {
        pid: u32,
        signal: &'a [u8],
        oom_hint: bool,
    },
    WorkerTerminatedBySignal {
        pid: u32,
        signal: u32,
    },
    WorkerExiting {
        pid: u32,
    },
    /// `Autorestarting worker after current request.`: the worker served `max_requests` and
    /// gunicorn restarts it on purpose (its `Worker exiting` follows, then a new one boots).
    WorkerAutorestart,
    /// `Exception in worker process` (a worker failed while booting; a traceback follows).
    WorkerBootError,
    /// `Reason: Worker failed to boot.` / `Reason: App failed to load.`
    BootFailed {
        reason: &'a [u8],
    },
    HandlingSignal {
        signal: &'a [u8],
    },
    ErrorHandlingRequest {
        method: Option<&'a [u8]>,
        uri: Option<&'a [u8]>,
    },
    InvalidRequest {
        client: &'a [u8],
    },
    ConfigDumpStart,
    ConfigValue {
        key: &'a [u8],
        value: &'a [u8],
    },
    /// gunicorn's DEBUG `GET /path` pre-request line.
    RequestStart {
        method: &'a [u8],
        path: &'a [u8],
    },
    // the application
    Incoming {
        method: &'a [u8],
        path: &'a [u8],
        client: &'a [u8],
        host: &'a [u8],
    },
    Response {
        method: &'a [u8],
        path: &'a [u8],
        status: u16,
    },
    K8sInternal {
        ip: &'a [u8],
    },
    /// gunicorn's `Ignoring EPIPE` (gthread's `Ignoring connection epipe`) or `Ignoring
    /// connection reset`: the worker's last request lost its client before the answer was written.
    ClientGone,
    /// Django's DisallowedHost: the host as Django printed it, the domain it suggests adding.
    DisallowedHost {
        host: &'a [u8],
        add: Option<&'a [u8]>,
        rfc_valid: bool,
    },
    /// `django.request`: `Not Found: /x` and kin.
    DjangoRequest {
        status: u16,
        path: &'a [u8],
    },
    Access(Access<'a>),
    /// A line only an edge (proxy, load balancer, platform router) writes; boxed, as it is
    /// large and rare among the app's lines.
    Edge(Box<edge::EdgeRecord<'a>>),
    // continuation lines
    TracebackStart,
    TracebackLine,
    ExceptionLine {
        exc_type: &'a [u8],
        message: &'a [u8],
    },
    /// A line in a known layout whose message reqtrail does not interpret.
    Message,
    Blank,
    Unrecognized,
}

/// A parsed line: the event with the time, pid and level its prefix carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub time: Option<Ts>,
    pub pid: Option<u32>,
    pub level: Option<Level>,
    pub event: Event<'a>,
    /// The thread id, when the layout logs one (Django `verbose`, JSON `thread`).
    pub thread: Option<u64>,
    /// A request id field (JSON/logfmt `request_id` and kin).
    pub request_id: Option<&'a [u8]>,
    /// The exception type a structured record carries in its traceback field.
    pub exception: Option<&'a [u8]>,
    /// The message text after any prefix, kept for lines whose message is not understood,
    /// so a team's own patterns can still read it.
    pub text: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn bare(event: Event<'a>) -> Parsed<'a> {
        Parsed::new(None, None, None, event)
    }

    fn new(
        time: Option<Ts>,
        pid: Option<u32>,
        level: Option<Level>,
        event: Event<'a>,
    ) -> Parsed<'a> {
        Parsed {
            time,
            pid,
            level,
            event,
            thread: None,
            request_id: None,
            exception: None,
            text: b"",
        }
    }

    fn edge(rec: edge::EdgeRecord<'a>) -> Parsed<'a> {
        Parsed::new(rec.time, None, None, Event::Edge(Box::new(rec)))
    }

    fn with_text(self, text: &'a [u8]) -> Parsed<'a> {
        Parsed { text, ..self }
    }

    fn with_prefix(p: layouts::Prefix, event: Event<'a>) -> Parsed<'a> {
        Parsed {
            thread: p.thread,
            ..Parsed::new(p.time, p.pid, p.level, event)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Normal,
    /// Inside a traceback: frames until the exception line.
    Traceback,
    /// Just after an exception line: a chained traceback may follow.
    AfterException,
    ConfigDump,
}

/// How many lines after an exception its message printed alone is still known as its echo.
const ECHO_LINES: u8 = 32;

/// An exception's message, remembered for [`ECHO_LINES`] lines: gunicorn 24 and later print
/// a failed worker's message again, alone, after its traceback. Other processes' lines (the
/// master's, another worker's) may come between, and the message and its newline are written
/// apart, so workers failing together can leave their messages side by side on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Echo {
    key: u64,
    len: usize,
    lines_left: u8,
}

impl Echo {
    /// Whether `line` is the message once or more.
    fn heard_in(&self, line: &[u8]) -> bool {
        let len = self.len;
        len > 0
            && line.len() % len == 0
            && line.chunks(len).all(|c| c == &line[..len])
            && message_key(&line[..len]) == self.key
    }
}

/// Parses the lines of one stream in order, remembering whether a traceback or config dump
/// is under way.
#[derive(Debug, Default, Clone)]
pub struct LineParser {
    mode: Mode,
    echo: Option<Echo>,
    custom: Arc<Patterns>,
    /// The fast path's last time stamps (a cache: no part of the parser's state).
    stamps: fast::Stamps,
}

impl LineParser {
    /// A parser that also tries a team's own request patterns on lines it does not know.
    pub fn with_patterns(custom: Arc<Patterns>) -> LineParser {
        LineParser {
            mode: Mode::Normal,
            echo: None,
            custom,
            stamps: fast::Stamps::default(),
        }
    }

    /// No traceback or config dump is under way: the next line parses as it would for a fresh
    /// parser.
    pub fn is_idle(&self) -> bool {
        self.mode == Mode::Normal && self.echo.is_none()
    }

    /// Whether the next line parses alike with `other` as with this parser.
    pub fn same_state(&self, other: &LineParser) -> bool {
        self.mode == other.mode && self.echo == other.echo
    }

    /// Parses one line. `scratch` holds decoded text when a structured record's fields carry
    /// escapes; the result may borrow from it.
    pub fn parse<'a>(&mut self, line: &'a [u8], scratch: &'a mut Vec<u8>) -> Parsed<'a> {
        self.parse_with(line, Some(scratch))
            .expect("a scratch buffer was given")
    }

    /// Parses one line into a result that borrows only `line`. A structured record whose
    /// fields need unescaping is `Err` with its time (the parser's state moved on all the same):
    /// parse it with [`LineParser::parse`], with any parser (such records parse alike in every
    /// state).
    #[inline]
    pub fn parse_in_place<'a>(&mut self, line: &'a [u8]) -> Result<Parsed<'a>, Option<Ts>> {
        self.parse_with(line, None)
    }

    #[inline]
    fn parse_with<'a>(
        &mut self,
        line: &'a [u8],
        scratch: Option<&'a mut Vec<u8>>,
    ) -> Result<Parsed<'a>, Option<Ts>> {
        self.count_down_echo();
        if let Some(parsed) = self.common(line) {
            return Ok(parsed);
        }
        if let Some(parsed) = self.edge_first(line) {
            return Ok(parsed);
        }
        self.general(line, scratch)
    }

    /// An edge's line that opens with a digit (its client's address), read as the general path
    /// reads it without trying its layouts first (some 2,000-3,000 instructions a line): the
    /// shared access shape with an edge's own fields after it (ingress-nginx, Traefik; see
    /// [`extended_access`]), and HAProxy's line, on which every layout fails (see
    /// [`edge::haproxy::without_prefix`]). `None` for any other line. Cold: in an app's
    /// log it runs for the odd line only.
    #[cold]
    fn edge_first<'a>(&mut self, line: &'a [u8]) -> Option<Parsed<'a>> {
        if !line.first().is_some_and(u8::is_ascii_digit) || atoms::may_start_with_date(line) {
            return None;
        }
        if let Some((a, tail)) = fast::access_line_then(line, &mut self.stamps) {
            let parsed = extended_access(a, tail, line);
            // The general path ends a traceback or config dump at any line but an access line.
            if !matches!(parsed.event, Event::Access(_)) {
                self.mode = Mode::Normal;
            }
            return Some(parsed);
        }
        // HAProxy's: not when a traceback is under way (the general path hears its echo
        // first), nor with a gunicorn record glued inside (read before the edges' lines).
        if !self.is_idle() || glued(line, &mut self.stamps).is_some() {
            return None;
        }
        edge::haproxy::without_prefix(line).map(Parsed::edge)
    }

    /// [`LineParser::parse_with`] without the fast path for the common shapes: the reference
    /// it must agree with.
    #[cfg(test)]
    fn parse_general<'a>(
        &mut self,
        line: &'a [u8],
        scratch: Option<&'a mut Vec<u8>>,
    ) -> Result<Parsed<'a>, Option<Ts>> {
        self.count_down_echo();
        self.general(line, scratch)
    }

    /// One line more since the last exception: its echo is forgotten after [`ECHO_LINES`].
    #[inline]
    fn count_down_echo(&mut self) {
        if let Some(echo) = &mut self.echo {
            match echo.lines_left.checked_sub(1) {
                Some(n) => echo.lines_left = n,
                None => self.echo = None,
            }
        }
    }

    /// The general dispatch, then a team's own patterns.
    fn general<'a>(
        &mut self,
        line: &'a [u8],
        scratch: Option<&'a mut Vec<u8>>,
    ) -> Result<Parsed<'a>, Option<Ts>> {
        let parsed = self.parse_builtin(line, scratch)?;
        if self.custom.is_empty() || !matches!(parsed.event, Event::Message | Event::Unrecognized) {
            return Ok(parsed);
        }
        Ok(apply_custom(&self.custom, parsed))
    }

    /// The two shapes nearly every line has, gunicorn's error-log record and its access line,
    /// ahead of the general dispatch (which answers alike for them): `None` for any other line
    /// and for a message left to a team's own patterns.
    #[inline]
    fn common<'a>(&mut self, line: &'a [u8]) -> Option<Parsed<'a>> {
        match *line.first()? {
            b'[' => {
                let record = fast::error_log_prefix(line, &mut self.stamps)?;
                match fast::app_message(record.3) {
                    Some(event) => {
                        self.mode = Mode::Normal;
                        Some(gunicorn_parsed(record, Some(event)))
                    }
                    None => self.known(gunicorn_parsed(record, None)),
                }
            }
            b'0'..=b'9' if !atoms::may_start_with_date(line) => {
                let a = fast::access_line(line, &mut self.stamps)?;
                Some(Parsed::new(a.time, None, None, Event::Access(a)))
            }
            _ => None,
        }
    }

    /// `parsed`, a gunicorn record, with the parser's state moved on as the general path
    /// moves it; `None` for a message left to a team's own patterns.
    #[inline]
    fn known<'a>(&mut self, parsed: Parsed<'a>) -> Option<Parsed<'a>> {
        match parsed.event {
            Event::Message => return None,
            Event::Access(_) => {}
            Event::ConfigDumpStart => self.mode = Mode::ConfigDump,
            _ => self.mode = Mode::Normal,
        }
        Some(parsed)
    }

    fn parse_builtin<'a>(
        &mut self,
        line: &'a [u8],
        scratch: Option<&'a mut Vec<u8>>,
    ) -> Result<Parsed<'a>, Option<Ts>> {
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Parsed::bare(Event::Blank));
        }
        let fields = match line[0] {
            b'{' => structured::json_record(line),
            // The Heroku router's pairs without logplex's prefix: not an app's logfmt record.
            b'a' | b's' if line.starts_with(b"at=") || line.starts_with(b"sock=") => {
                if let Some(rec) = edge::edge_line(line) {
                    self.mode = Mode::Normal;
                    return Ok(Parsed::edge(rec));
                }
                structured::logfmt_record(line)
            }
            b'a'..=b'z' => structured::logfmt_record(line),
            _ => None,
        };
        if let Some(f) = fields {
            self.mode = Mode::Normal;
            return from_fields(f, line, scratch);
        }
        if let Some(p) = prefixed(line, &mut self.stamps) {
            // Access lines come from stdout and may land inside a stderr traceback.
            if !matches!(p.event, Event::Access(_)) {
                self.mode = if matches!(p.event, Event::ConfigDumpStart) {
                    Mode::ConfigDump
                } else {
                    Mode::Normal
                };
            }
            return Ok(p);
        }
        if let Some(event) = self.continuation(line) {
            return Ok(Parsed::bare(event));
        }
        self.mode = Mode::Normal;
        if self.echo.is_some_and(|e| e.heard_in(line)) {
            return Ok(Parsed::bare(Event::TracebackLine));
        }
        if line == traceback::TRACEBACK_START {
            self.mode = Mode::Traceback;
            return Ok(Parsed::bare(Event::TracebackStart));
        }
        // A message without prefix: Django's default console handler prints `%(message)s`.
        if let Some(event) = message(None, line) {
            return Ok(Parsed::bare(event));
        }
        Ok(glued(line, &mut self.stamps)
            .or_else(|| edge::edge_line(line).map(Parsed::edge))
            .unwrap_or(Parsed::bare(Event::Unrecognized).with_text(line)))
    }

    fn continuation<'a>(&mut self, line: &'a [u8]) -> Option<Event<'a>> {
        match self.mode {
            Mode::Normal => None,
            Mode::ConfigDump => {
                let (_, (key, value)) = traceback::config_value(line).ok()?;
                Some(Event::ConfigValue { key, value })
            }
            Mode::Traceback | Mode::AfterException => {
                if line == traceback::TRACEBACK_START {
                    self.mode = Mode::Traceback;
                    return Some(Event::TracebackStart);
                }
                if line.starts_with(b" ")
                    || line.starts_with(b"\t")
                    || traceback::is_chain_separator(line)
                {
                    return (self.mode == Mode::Traceback || traceback::is_chain_separator(line))
                        .then_some(Event::TracebackLine);
                }
                if self.mode != Mode::Traceback {
                    return None;
                }
                let Ok((_, (exc_type, message))) = traceback::exception_line(line) else {
                    // Another worker's echo, written into this traceback, which goes on.
                    let echo = self.echo.is_some_and(|e| e.heard_in(line));
                    return echo.then_some(Event::TracebackLine);
                };
                self.mode = Mode::AfterException;
                self.echo = Some(Echo {
                    key: message_key(message),
                    len: message.len(),
                    lines_left: ECHO_LINES,
                });
                Some(Event::ExceptionLine { exc_type, message })
            }
        }
    }
}

/// An exception message's key, to know it again when it is printed alone.
fn message_key(message: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    message.hash(&mut h);
    h.finish()
}

/// Lines that carry a layout of their own: gunicorn error-log prefix, access lines, runserver.
fn prefixed<'a>(line: &'a [u8], stamps: &mut fast::Stamps) -> Option<Parsed<'a>> {
    match line[0] {
        b'[' => {
            if let Some(p) = gunicorn_record(line, stamps) {
                return Some(p);
            }
            if let Ok((msg, level)) = gunicorn::level_only_prefix(line) {
                let prefix = layouts::Prefix {
                    level: Some(level),
                    ..Default::default()
                };
                return Some(with_message(prefix, msg));
            }
            if let Ok((_, a)) = access::runserver_line(line) {
                return Some(Parsed::new(a.time, None, None, Event::Access(a)));
            }
            let (msg, p) = layouts::python_layout(line).ok()?;
            Some(with_message(p, msg))
        }
        b'0'..=b'9' if atoms::may_start_with_date(line) => {
            if let Some(p) = gunicorn_record(line, stamps) {
                return Some(p);
            }
            // `%(asctime)s %(levelname)s %(message)s` first (the common case, and cheap); a
            // message it leaves unread may start with a logger's name or a layout of its own.
            let plain = match layouts::asctime_level(line) {
                Ok((msg, p)) => {
                    let p = with_message(p, msg);
                    if !matches!(p.event, Event::Message) {
                        return Some(p);
                    }
                    Some(p)
                }
                Err(_) => None,
            };
            match layouts::python_layout(line) {
                Ok((msg, p)) => Some(with_message(p, msg)),
                Err(_) => plain.or_else(|| access_event(line, stamps)),
            }
        }
        b'A'..=b'Z' => {
            // Each of these layouts opens with a level: a line that does not (a traceback's
            // `Traceback (most recent call last):`, `ValueError: …`) is read for none of them.
            let parsed = atoms::level_name(line).and_then(|_| {
                layouts::django_verbose(line)
                    .or_else(|_| layouts::level_logger(line))
                    .or_else(|_| layouts::uvicorn_level(line))
                    .or_else(|_| layouts::python_layout(line))
                    .or_else(|_| layouts::level_space(line))
            });
            match parsed {
                Ok((msg, p)) => Some(with_message(p, msg)),
                Err(_) => access_event(line, stamps),
            }
        }
        _ => access_event(line, stamps),
    }
}

/// A line in gunicorn's error-log layout (both date forms), message read.
fn gunicorn_record<'a>(line: &'a [u8], stamps: &mut fast::Stamps) -> Option<Parsed<'a>> {
    let record = match fast::error_log_prefix(line, stamps) {
        Some(read) => read,
        None => {
            let (msg, (time, pid, level)) = gunicorn::error_log_prefix(line).ok()?;
            (time, pid, level, msg)
        }
    };
    Some(gunicorn_parsed(record, None))
}

/// A gunicorn record, its (time, pid, level) prefix and message read: `event` when the
/// message is known already, else what the message says.
#[inline]
fn gunicorn_parsed<'a>(
    (time, pid, level, msg): (Ts, u32, Level, &'a [u8]),
    event: Option<Event<'a>>,
) -> Parsed<'a> {
    let prefix = layouts::Prefix {
        time: Some(time),
        pid: Some(pid),
        thread: None,
        level: Some(level),
    };
    match event {
        Some(event) => Parsed::with_prefix(prefix, event).with_text(msg),
        None => with_message(prefix, msg),
    }
}

fn with_message(p: layouts::Prefix, msg: &[u8]) -> Parsed<'_> {
    let event = message(p.level, msg).unwrap_or(Event::Message);
    Parsed::with_prefix(p, event).with_text(msg)
}

/// A record glued to the end of an earlier line that lost its newline:
/// `…partial output[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET / -> 200`.
fn glued<'a>(line: &'a [u8], stamps: &mut fast::Stamps) -> Option<Parsed<'a>> {
    for at in memchr::memchr_iter(b'[', line)
        .skip_while(|&k| k == 0)
        .take(8)
    {
        let rest = &line[at..];
        if rest.len() > 5 && rest[1..5].iter().all(u8::is_ascii_digit) && rest[5] == b'-' {
            if let Some(p) = gunicorn_record(rest, stamps) {
                return Some(p);
            }
        }
    }
    None
}

/// A team's own request-start / request-end wording, read from the line's message text.
fn apply_custom<'a>(custom: &Patterns, parsed: Parsed<'a>) -> Parsed<'a> {
    let text = parsed.text;
    for (end, pats) in [(false, &custom.start), (true, &custom.end)] {
        for pat in pats {
            let Some(c) = pat.regex.captures(text) else {
                continue;
            };
            let group = |n: &str| c.name(n).map(|m| m.as_bytes());
            let method = group("method").unwrap_or(b"");
            let path = group("path").unwrap_or(b"");
            let event = if end {
                let Some((_, status)) = group("status").and_then(|s| atoms::status_code(s).ok())
                else {
                    continue;
                };
                Event::Response {
                    method,
                    path,
                    status,
                }
            } else {
                let client = group("client").unwrap_or(b"");
                let host = group("host").unwrap_or(b"");
                Event::Incoming {
                    method,
                    path,
                    client,
                    host,
                }
            };
            let pid = group("pid")
                .and_then(|p| atoms::number(p).ok())
                .map(|(_, n)| n);
            return Parsed {
                event,
                request_id: group("id").or(parsed.request_id),
                pid: pid.or(parsed.pid),
                ..parsed
            };
        }
    }
    parsed
}

/// A structured record's fields as a parsed line, escaped fields decoded into `scratch`; `Err`
/// with the record's time when some field needs decoding and there is no `scratch`. A JSON
/// `line` whose message says nothing to the app's parsers may be an edge's (Caddy, Traefik, a
/// Google Cloud load balancer entry).
fn from_fields<'a>(
    f: structured::Fields<'a>,
    line: &'a [u8],
    mut scratch: Option<&'a mut Vec<u8>>,
) -> Result<Parsed<'a>, Option<Ts>> {
    use std::borrow::Cow;
    enum Piece<'a> {
        Borrowed(&'a [u8]),
        Copied(std::ops::Range<usize>),
    }
    let owned = [&f.message, &f.request_id, &f.method, &f.path, &f.host]
        .iter()
        .any(|c| matches!(c, Some(Cow::Owned(_))))
        || f.exception.is_some();
    if scratch.is_none() && owned {
        return Err(f.time);
    }
    if let Some(s) = scratch.as_deref_mut() {
        s.clear();
    }
    let mut put = |c: Option<Cow<'a, str>>| -> Option<Piece<'a>> {
        Some(match c? {
            Cow::Borrowed(s) => Piece::Borrowed(s.as_bytes()),
            Cow::Owned(s) => {
                let buf = scratch.as_deref_mut().expect("checked above");
                let start = buf.len();
                buf.extend_from_slice(s.as_bytes());
                Piece::Copied(start..buf.len())
            }
        })
    };
    let msg = put(f.message);
    let request_id = put(f.request_id);
    let method = put(f.method);
    let path = put(f.path);
    let host = put(f.host);
    let exception = put(f.exception.map(Cow::Owned));
    let buf: &'a [u8] = match scratch {
        Some(s) => s,
        None => &[],
    };
    let get = |p: Option<Piece<'a>>| -> Option<&'a [u8]> {
        p.map(|p| match p {
            Piece::Borrowed(b) => b,
            Piece::Copied(r) => &buf[r],
        })
    };
    let (msg, method, path, host) = (get(msg), get(method), get(path), get(host));
    let event = msg
        .and_then(|m| message(f.level, m))
        .or_else(|| match (method, path, f.status) {
            // structlog-style request records: the fields say it all.
            (Some(method), Some(path), Some(status)) => Some(Event::Response {
                method,
                path,
                status,
            }),
            (Some(method), Some(path), None) => Some(Event::Incoming {
                method,
                path,
                client: b"",
                host: host.unwrap_or(b""),
            }),
            _ => None,
        })
        .unwrap_or(Event::Message);
    if matches!(event, Event::Message) && line[0] == b'{' {
        if let Some(rec) = edge::edge_json(line) {
            return Ok(Parsed::edge(rec));
        }
    }
    Ok(Parsed {
        thread: f.thread,
        request_id: get(request_id),
        exception: get(exception),
        text: msg.unwrap_or(b""),
        ..Parsed::new(f.time, f.pid, f.level, event)
    })
}

fn access_event<'a>(line: &'a [u8], stamps: &mut fast::Stamps) -> Option<Parsed<'a>> {
    if let Some(a) = fast::access_line(line, stamps) {
        return Some(Parsed::new(a.time, None, None, Event::Access(a)));
    }
    memchr::memchr(b'"', line)?;
    let (tail, a) = access::access_line(line).ok()?;
    Some(extended_access(a, tail, line))
}

/// Access line `a` of `line`, and `tail`, what follows it: with more after it, an edge's access
/// line of the shared shape with fields of its own (ingress-nginx and Traefik extend it with
/// fields gunicorn never writes) when the edges' parsers read it so, else `a`.
fn extended_access<'a>(a: Access<'a>, tail: &[u8], line: &'a [u8]) -> Parsed<'a> {
    if !tail.is_empty() {
        if let Some(rec) = edge::extended_access(line) {
            return Parsed::edge(rec);
        }
    }
    Parsed::new(a.time, None, None, Event::Access(a))
}

/// The message part of a record: application lines first (they are the most frequent), then
/// gunicorn's templates, then an access line written through a logging prefix.
fn message(level: Option<Level>, msg: &[u8]) -> Option<Event<'_>> {
    fast::app_message(msg)
        .or_else(|| django::message(msg))
        .or_else(|| {
            // Before gunicorn's templates, which read any `Ignor…` as a known message.
            let epipe = msg.first() == Some(&b'I') && client::ignoring_client_gone(msg).is_ok();
            epipe.then_some(Event::ClientGone)
        })
        .or_else(|| gunicorn::message(level, msg))
        .or_else(|| {
            // logconfig_dict's `generic` formatter puts access lines behind the prefix.
            let first = *msg.first()?;
            if level.is_some() && (first.is_ascii_digit() || first == b' ' || first == b'[') {
                access::access_line(msg).ok().map(|(_, a)| Event::Access(a))
            } else {
                None
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(lines: &[&[u8]]) -> Vec<Event<'static>> {
        let mut p = LineParser::default();
        lines
            .iter()
            .map(|l| {
                // Leak to get 'static events for comparison in tests only.
                let l: &'static [u8] = Box::leak(l.to_vec().into_boxed_slice());
                p.parse(l, Box::leak(Box::default())).event
            })
            .collect()
    }

    /// gunicorn 24 and later print a failed worker's exception message alone after its
    /// traceback: it belongs to the traceback, also when other processes' lines come between
    /// and when two workers' messages share a line; past [`ECHO_LINES`] lines, or a line
    /// that is not the message, is read for itself.
    #[test]
    fn an_exception_message_printed_again_belongs_to_its_traceback() {
        let master: &[u8] =
            b"[2026-12-04 07:47:21 +0000] [29290] [ERROR] Worker (pid:29291) exited with code 3.";
        let mut lines: Vec<&[u8]> = vec![
            b"Traceback (most recent call last):",
            b"  File \"/app/settings.py\", line 17, in <module>",
            b"ValueError: ALLOWED_HOSTS must be explicitly set in production",
            b"ALLOWED_HOSTS must be explicitly set in production",
            b"[2026-12-04 07:47:21 +0000] [29292] [INFO] Worker exiting (pid: 29292)",
            master,
            b"ALLOWED_HOSTS must be explicitly set in production",
            b"Traceback (most recent call last):",
            b"  File \"/app/settings.py\", line 17, in <module>",
            b"ValueError: one thing",
            b"Traceback (most recent call last):",
            b"one thing",
            b"  File \"/app/settings.py\", line 17, in <module>",
            b"ValueError: one thing",
            b"one thingone thing",
            b"one thing",
            b"one thingone thin",
            b"another thing",
        ];
        // The last line the echo of `ValueError: one thing` (line 13) is heard on, and the next.
        let heard = 13 + usize::from(ECHO_LINES);
        lines.resize(heard, master);
        lines.extend([&b"one thing"[..], b"one thing"]);
        let ev = events(&lines);
        assert_eq!(ev[3], Event::TracebackLine);
        assert_eq!(ev[4], Event::WorkerExiting { pid: 29292 });
        // After the master's line: still the traceback's.
        assert_eq!(ev[6], Event::TracebackLine);
        // Inside another traceback, which goes on.
        assert_eq!(ev[11], Event::TracebackLine);
        assert_eq!(ev[12], Event::TracebackLine);
        assert!(matches!(ev[13], Event::ExceptionLine { .. }));
        // Two workers' messages side by side, then one on its own line.
        assert_eq!(ev[14], Event::TracebackLine);
        assert_eq!(ev[15], Event::TracebackLine);
        assert_eq!(ev[16], Event::Unrecognized);
        assert_eq!(ev[17], Event::Unrecognized);
        // Then the echo is forgotten: the message is read for itself.
        assert_eq!(ev[heard], Event::TracebackLine);
        assert_eq!(ev[heard + 1], Event::Unrecognized);
    }

    /// Edges' lines that open as an access line does, read ahead of the general path's
    /// layouts: the same parse as the general path's and the same state after it, whatever
    /// the state before (a fresh parser, inside a traceback, after its exception line while
    /// its echo may come, inside a config dump). Lines from the edges' documentation.
    #[test]
    fn edge_lines_read_first_parse_as_the_general_path_reads_them() {
        let edge_lines: [&[u8]; 6] = [
            // ingress-nginx's `upstreaminfo`, Traefik's CLF
            br#"192.168.49.1 - - [28/Nov/2026:03:46:52 +0000] "GET /orders/?page=2 HTTP/1.1" 200 612 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)" 412 0.013 [shop-web-8000] [] 10.244.0.12:8000 612 0.012 200 9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"#,
            br#"10.0.0.5 - alice [28/Nov/2026:03:48:10 +0000] "POST /slow/ HTTP/2.0" 504 15 "https://shop.example.com/" "curl/8.5.0" 43 "app@docker" "http://172.18.0.3:8000" 30001ms"#,
            // HAProxy's `option httplog` without a syslog prefix
            br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/gunicorn1 0/0/-1/-1/3004 503 217 - - SC-- 2/2/0/0/+3 0/0 "POST /login/ HTTP/1.1""#,
            // An access line with more after its agent that no edge writes, a cut HAProxy
            // line, one with a gunicorn record glued inside
            br#"10.0.0.5 - - [28/Nov/2026:03:48:10 +0000] "GET / HTTP/1.1" 200 15 "-" "curl/8.5.0" extra"#,
            br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/gunicorn1 0/0/-1/-1/3004 503"#,
            br#"10.0.0.7:40022 [28/Nov/2026:03:50:00.120] web~ app/g 0/0/0/0/1 200 2 - - ---- 1/1/0/0/0 0/0 "GET /[2025-10-16 08:00:00 +0000] [36] [INFO] Booting worker with pid: 36 HTTP/1.1""#,
        ];
        let traceback = &b"Traceback (most recent call last):"[..];
        for line in edge_lines {
            // The last state: an exception whose message is the line, which may come again as
            // its echo.
            let echoed = [&b"ValueError: "[..], line].concat();
            let states: [&[&[u8]]; 5] = [
                &[],
                &[traceback],
                &[traceback, b"ValueError: bad"],
                &[b"[2025-10-16 08:00:00 +0000] [1] [DEBUG] Current configuration:"],
                &[traceback, &echoed],
            ];
            for before in states {
                let (mut fast, mut general) = (LineParser::default(), LineParser::default());
                for l in before {
                    fast.parse(l, &mut Vec::new());
                    general.parse_general(l, Some(&mut Vec::new())).unwrap();
                }
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let with = fast.parse(line, &mut a);
                let without = general.parse_general(line, Some(&mut b));
                let text = String::from_utf8_lossy(line);
                assert_eq!(Ok(with), without, "{text} after {before:?}");
                assert!(fast.same_state(&general), "{text} after {before:?}");
            }
        }
        // The edges' lines are theirs when no traceback is under way.
        let mut p = LineParser::default();
        for line in &edge_lines[..3] {
            let mut scratch = Vec::new();
            let parsed = p.parse(line, &mut scratch);
            assert!(matches!(parsed.event, Event::Edge(_)), "{:?}", parsed.event);
        }
    }

    #[test]
    fn python_layouts_read_their_messages() {
        let ev = events(&[
            b"2026-11-28 03:46:52,123 - django.request - ERROR - Internal Server Error: /boom/",
            b"[2026-11-28 03:46:52,123] ERROR | django.security.DisallowedHost | Invalid HTTP_HOST header: 'a.b'. You may need to add 'a.b' to ALLOWED_HOSTS.",
            b"2026-11-28 03:46:52,123 INFO myapp.middleware: RESPONSE: GET / -> 200",
            b"[2026-11-28 03:46:52,123] [WARNING] [django.request] Not Found: /x",
        ]);
        assert!(
            matches!(ev[0], Event::DjangoRequest { status: 500, .. }),
            "{:?}",
            ev[0]
        );
        assert!(
            matches!(ev[1], Event::DisallowedHost { host: b"a.b", .. }),
            "{:?}",
            ev[1]
        );
        assert!(
            matches!(ev[2], Event::Response { status: 200, .. }),
            "{:?}",
            ev[2]
        );
        assert!(
            matches!(ev[3], Event::DjangoRequest { status: 404, .. }),
            "{:?}",
            ev[3]
        );
    }

    #[test]
    fn prefixed_middleware_line() {
        let mut p = LineParser::default();
        let mut scratch = Vec::new();
        let parsed = p.parse(
            b"[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /health/ -> 200",
            &mut scratch,
        );
        assert_eq!(parsed.pid, Some(36));
        assert_eq!(parsed.level, Some(Level::Info));
        assert_eq!(
            parsed.event,
            Event::Response {
                method: b"GET",
                path: b"/health/",
                status: 200
            }
        );
    }

    #[test]
    fn traceback_attaches_and_does_not_double_count() {
        let ev = events(&[
            b"[2026-11-28 03:00:00 +0000] [9] [ERROR] Invalid HTTP_HOST header: 'a.b'. You may need to add 'a.b' to ALLOWED_HOSTS.",
            b"Traceback (most recent call last):",
            b"  File \"/x/django/core/handlers/exception.py\", line 55, in inner",
            b"    response = get_response(request)",
            b"               ^^^^^^^^^^^^^^^^^^^^^",
            b"127.0.0.1 - - [28/Nov/2026:03:00:00 +0000] \"GET / HTTP/1.1\" 400 143 \"-\" \"curl/8\"",
            b"django.core.exceptions.DisallowedHost: Invalid HTTP_HOST header: 'a.b'. You may need to add 'a.b' to ALLOWED_HOSTS.",
            b"Invalid HTTP_HOST header: 'c.d'. You may need to add 'c.d' to ALLOWED_HOSTS.",
        ]);
        assert!(matches!(ev[0], Event::DisallowedHost { host: b"a.b", .. }));
        assert_eq!(ev[1], Event::TracebackStart);
        assert_eq!(ev[2], Event::TracebackLine);
        assert_eq!(ev[4], Event::TracebackLine);
        assert!(matches!(ev[5], Event::Access(_)));
        assert!(matches!(
            ev[6],
            Event::ExceptionLine {
                exc_type: b"django.core.exceptions.DisallowedHost",
                ..
            }
        ));
        // A bare record after the traceback is a record again.
        assert!(matches!(ev[7], Event::DisallowedHost { host: b"c.d", .. }));
    }

    #[test]
    fn chained_tracebacks() {
        let ev = events(&[
            b"Traceback (most recent call last):",
            b"  File \"a.py\", line 1, in f",
            b"KeyError: 'x'",
            b"",
            b"During handling of the above exception, another exception occurred:",
            b"",
            b"Traceback (most recent call last):",
            b"  File \"a.py\", line 3, in g",
            b"ValueError: bad",
            b"not a traceback line",
        ]);
        assert_eq!(ev[4], Event::TracebackLine);
        assert_eq!(ev[6], Event::TracebackStart);
        assert!(matches!(
            ev[8],
            Event::ExceptionLine {
                exc_type: b"ValueError",
                ..
            }
        ));
        assert_eq!(ev[9], Event::Unrecognized);
    }

    #[test]
    fn config_dump() {
        let ev = events(&[
            b"[2026-11-28 03:00:00 +0000] [1] [DEBUG] Current configuration:",
            b"  config: ./gunicorn.conf.py",
            b"  timeout: 2",
            b"[2026-11-28 03:00:00 +0000] [1] [INFO] Starting gunicorn 23.0.0",
            b"  timeout: 2",
        ]);
        assert_eq!(ev[0], Event::ConfigDumpStart);
        assert_eq!(
            ev[2],
            Event::ConfigValue {
                key: b"timeout",
                value: b"2"
            }
        );
        assert!(matches!(ev[3], Event::Starting { .. }));
        assert_eq!(ev[4], Event::Unrecognized);
    }

    #[test]
    fn bare_and_seed_layouts() {
        let ev = events(&[
            b"[INFO] INCOMING REQUEST: GET /health/ from 127.0.0.6 Host: 10.96.27.85:8080",
            b"127.0.0.6 - \"GET /health/ HTTP/1.1\" 200 61 \"-\" \"kube-probe/1.32\"",
            b"Not Found: /nope",
            b"Worker spawned (pid: 36, 37, 38, 39)",
            b"   ",
        ]);
        assert!(matches!(ev[0], Event::Incoming { .. }));
        assert!(matches!(ev[1], Event::Access(_)));
        assert_eq!(
            ev[2],
            Event::DjangoRequest {
                status: 404,
                path: b"/nope"
            }
        );
        assert_eq!(ev[3], Event::Unrecognized);
        assert_eq!(ev[4], Event::Blank);
    }

    #[test]
    fn access_behind_logging_prefix() {
        let ev = events(&[
            b"[2026-11-28 03:00:00 +0000] [7] [INFO] 10.0.0.1 - - [28/Nov/2026:03:00:00 +0000] \"GET /x HTTP/1.1\" 200 1 \"-\" \"curl/8\"",
        ]);
        assert!(matches!(ev[0], Event::Access(Access { status: 200, .. })));
    }

    fn parse_one(line: &'static [u8]) -> Parsed<'static> {
        LineParser::default().parse(line, Box::leak(Box::default()))
    }

    #[test]
    fn other_layouts_carry_pid_thread_and_id() {
        let p = parse_one(
            b"INFO 2026-11-28 03:10:00,123 middleware 4711 140235 RESPONSE: GET / -> 200",
        );
        assert_eq!((p.pid, p.thread), (Some(4711), Some(140235)));
        assert!(matches!(p.event, Event::Response { status: 200, .. }));
        let p = parse_one(
            br#"{"asctime": "2026-11-28 03:10:00,123", "levelname": "WARNING", "process": 8, "message": "Invalid HTTP_HOST header: '\u001b[2J'. The domain name provided is not valid according to RFC 1034/1035.", "request_id": "r\"1"}"#,
        );
        assert_eq!(p.pid, Some(8));
        assert_eq!(p.request_id, Some(&b"r\"1"[..]));
        assert!(
            matches!(
                p.event,
                Event::DisallowedHost {
                    host: b"\x1b[2J",
                    rfc_valid: false,
                    ..
                }
            ),
            "{p:?}"
        );
        let p = parse_one(b"WARNING:django.request:Not Found: /x");
        assert_eq!(
            p.event,
            Event::DjangoRequest {
                status: 404,
                path: b"/x"
            }
        );
        let p = parse_one(b"INFO:     127.0.0.1:5000 - \"GET / HTTP/1.1\" 200 OK");
        assert!(
            matches!(p.event, Event::Access(Access { status: 200, .. })),
            "{p:?}"
        );
        let p =
            parse_one(b"level=info pid=3 msg=\"INCOMING REQUEST: GET /a from 10.0.0.1 Host: h\"");
        assert_eq!(p.pid, Some(3));
        assert!(matches!(p.event, Event::Incoming { path: b"/a", .. }));
    }

    #[test]
    fn glued_record_is_found() {
        let p = parse_one(b"partial output without newline[2025-10-16 08:00:00 +0000] [36] [INFO] RESPONSE: GET /x -> 200");
        assert_eq!(p.pid, Some(36));
        assert!(matches!(p.event, Event::Response { .. }));
        assert_eq!(parse_one(b"text [2025 and more").event, Event::Unrecognized);
    }

    #[test]
    fn never_panics_on_junk() {
        let mut p = LineParser::default();
        for junk in [
            &b"\xff\xfe\x00["[..],
            b"[",
            b"[2025-10-16 08:00:00 +0000] [36] [INFO]",
            b"\"",
            b"1",
            b"INCOMING REQUEST: ",
            b"RESPONSE: GET  -> ",
            b"Invalid HTTP_HOST header: '",
        ] {
            let _ = p.parse(junk, &mut Vec::new());
        }
    }
}
