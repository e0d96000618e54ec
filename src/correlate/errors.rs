//! The app's errors: `Error handling request`, Django's 5xx lines, invalid requests, and the
//! tracebacks that follow them (their exception type is counted for the error it belongs to),
//! plus lines that mention a request in a wording nobody declared.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::records::lossy;
use super::workers::halts;
use super::{keep, Analysis, Line, EVIDENCE_PER_KIND, MAX_SAMPLES};
use crate::parse::{Event, Parsed};

/// Words that tell a message nobody recognised speaks of a request, searched for with finders
/// built once: `memmem::find` builds one for every call, and every such message is searched
/// until a few samples are kept (~1,000 instructions a message).
static REQUEST_WORDS: LazyLock<[Finder<'static>; 6]> = LazyLock::new(|| {
    [
        &b"GET "[..],
        b"POST ",
        b"HTTP/",
        b"request",
        b"REQUEST",
        b"response",
    ]
    .map(Finder::new)
});

/// Which record a traceback that follows belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Attach {
    #[default]
    None,
    BootError,
    ServerError,
}

/// What one stream knows of the error being told between lines.
#[derive(Default)]
pub(super) struct Errors {
    attach: Attach,
}

impl Errors {
    /// An error line, a traceback's exception line, or a message nobody recognised.
    #[cold]
    pub(super) fn on_event(&mut self, p: &Parsed<'_>, line: &Line<'_>, out: &mut Analysis) {
        match &p.event {
            Event::ErrorHandlingRequest { .. } => {
                out.errors.request_errors += 1;
                keep(&mut out.errors.server_error_evidence, || line.evidence());
            }
            Event::InvalidRequest { .. } => out.errors.invalid_requests += 1,
            Event::Message
                if out.input.unknown_request_messages.len() < MAX_SAMPLES
                    && REQUEST_WORDS.iter().any(|w| w.find(p.text).is_some()) =>
            {
                out.input.unknown_request_messages.push(line.evidence());
            }
            Event::DjangoRequest { status, .. } if *status >= 500 => {
                keep(&mut out.errors.server_error_evidence, || line.evidence());
            }
            Event::ExceptionLine { exc_type, message } if !halts(exc_type, message) => {
                match self.attach {
                    Attach::BootError => {
                        if out.workers.boot_exceptions.len() < EVIDENCE_PER_KIND {
                            let text = format!("{}: {}", lossy(exc_type), lossy(message));
                            out.workers.boot_exceptions.push(text);
                        }
                    }
                    Attach::ServerError => {
                        *out.errors
                            .exception_types
                            .entry(lossy(exc_type))
                            .or_default() += 1;
                    }
                    Attach::None => {}
                }
            }
            _ => {}
        }
    }

    /// After every line: a structured record's traceback field, and which record a
    /// traceback that follows belongs to. Inlined: it runs for every line, and most lines
    /// only set `attach`.
    #[inline]
    pub(super) fn after_line(&mut self, p: &Parsed<'_>, out: &mut Analysis) {
        if let Some(exc) = p.exception {
            field_exception(&p.event, exc, out);
        }
        match &p.event {
            Event::WorkerBootError => self.attach = Attach::BootError,
            Event::ErrorHandlingRequest { .. } => self.attach = Attach::ServerError,
            Event::DjangoRequest { status, .. } if *status >= 500 => {
                self.attach = Attach::ServerError
            }
            Event::TracebackStart
            | Event::TracebackLine
            | Event::ExceptionLine { .. }
            | Event::Access(_)
            | Event::Blank => {}
            _ => self.attach = Attach::None,
        }
    }
}

/// A structured record may carry its traceback in a field (`exc`, its exception's type).
#[inline(never)]
fn field_exception(event: &Event<'_>, exc: &[u8], out: &mut Analysis) {
    match event {
        Event::WorkerBootError if out.workers.boot_exceptions.len() < EVIDENCE_PER_KIND => {
            out.workers.boot_exceptions.push(lossy(exc));
        }
        Event::ErrorHandlingRequest { .. } | Event::DjangoRequest { status: 500.., .. } => {
            *out.errors.exception_types.entry(lossy(exc)).or_default() += 1;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::correlate::run;

    /// A message nobody recognised is kept as a sample when it has one of the request words
    /// (each of them, anywhere in it), and not otherwise.
    #[test]
    fn messages_speaking_of_requests_are_sampled() {
        let line = |m: &str| format!("[2025-10-16 08:00:00 +0000] [36] [INFO] {m}");
        let sampled = |m: &str| !run(&[&line(m)]).input.unknown_request_messages.is_empty();
        for m in [
            "served GET /x in 3 ms",
            "POST /y",
            "spoke HTTP/1.1",
            "the request was slow",
            "REQUEST",
            "no response yet",
        ] {
            assert!(sampled(m), "{m}");
        }
        for m in ["cache warmed", "GETS /x", "Request", "respond"] {
            assert!(!sampled(m), "{m}");
        }
    }

    #[test]
    fn gunicorn_500_after_timeout_is_recorded() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 127.0.0.1 Host: app.example.com",
            "[2025-10-16 08:00:02 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:02 +0000] [36] [ERROR] Error handling request /slow/",
            "Traceback (most recent call last):",
            "  File \"x\", line 1, in y",
            "SystemExit: 1",
            "127.0.0.1 - - [16/Oct/2025:08:00:02 +0000] \"GET /slow/ HTTP/1.1\" 500 0 \"-\" \"-\"",
            "[2025-10-16 08:00:02 +0000] [36] [INFO] Worker exiting (pid: 36)",
        ]);
        assert_eq!(a.traffic.orphans_total, 1);
        assert_eq!(a.traffic.orphans[0].client_status, Some(500));
        assert_eq!(a.errors.exception_types["SystemExit"], 1);
        assert_eq!(a.traffic.status[&500], 1);
    }
}
