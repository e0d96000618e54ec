//! gunicorn's error log: the line prefix and every lifecycle message template.
//!
//! Templates are quoted from gunicorn's `glogging.py`, `arbiter.py` and `workers/*.py` (19.x to
//! 26.x); see shared/reference/log-formats.md §1–2. Spacing differs between templates on purpose
//! (`WORKER TIMEOUT (pid:7)` against `Worker exiting (pid: 7)`): it is what gunicorn prints.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::char;
use nom::combinator::{opt, rest};
use nom::sequence::preceded;
use nom::Parser;

use super::atoms::no_match;
use super::atoms::{
    bracketed_level, bracketed_log_time, bracketed_pid, http_method, number, plain_log_time,
    tag_end, Level, PResult, Ts,
};
use super::Event;

/// The error-log prefix `%(asctime)s [%(process)d] [%(levelname)s] ` in both date layouts
/// (`[2025-10-16 08:00:00 +0000] [36] [INFO] ` and pre-19.1 `2015-11-12 17:23:50 [17027] [INFO] `).
/// Returns (time, pid, level) and the message.
pub fn error_log_prefix(i: &[u8]) -> PResult<'_, (Ts, u32, Level)> {
    let (i, (time, _, pid, _, level)) = (
        alt((bracketed_log_time, plain_log_time)),
        char(' '),
        bracketed_pid,
        char(' '),
        bracketed_level,
    )
        .parse(i)?;
    let (i, _) = opt(char(' ')).parse(i)?;
    Ok((i, (time, pid, level)))
}

/// A level alone in brackets before the message, as in hand-pasted or PaaS-rewritten logs:
/// `[INFO] Starting gunicorn 21.2.0`.
pub fn level_only_prefix(i: &[u8]) -> PResult<'_, Level> {
    let (i, level) = bracketed_level(i)?;
    let (i, _) = char(' ').parse(i)?;
    Ok((i, level))
}

fn pid_colon(i: &[u8]) -> PResult<'_, u32> {
    // `(pid:7)` and `(pid: 7)` both occur (see the module doc).
    let (i, (_, _, pid, _)) = (tag("(pid:"), opt(char(' ')), number, char(')')).parse(i)?;
    Ok((i, pid))
}

/// `Starting gunicorn 23.0.0`
fn starting(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, version) =
        preceded(tag("Starting gunicorn "), take_while1(|c: u8| c != b' ')).parse(i)?;
    Ok((i, Event::Starting { version }))
}

/// `Listening at: http://0.0.0.0:8080 (1)`; after a HUP the `(pid)` part is absent.
fn listening(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, addrs) = preceded(tag("Listening at: "), take_while1(|c: u8| c != b' ')).parse(i)?;
    Ok((i, Event::Listening { addrs }))
}

/// `Using worker: sync`
fn using_worker(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, class) = preceded(tag("Using worker: "), take_while1(|c: u8| c != b' ')).parse(i)?;
    Ok((i, Event::UsingWorker { class }))
}

/// `Booting worker with pid: 37`
fn booting(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, pid) = preceded(tag("Booting worker with pid: "), number).parse(i)?;
    Ok((i, Event::Booting { pid }))
}

/// `WORKER TIMEOUT (pid:37)`
fn worker_timeout(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, pid) = preceded(tag("WORKER TIMEOUT "), pid_colon).parse(i)?;
    Ok((i, Event::WorkerTimeout { pid }))
}

/// `Worker exiting (pid: 37)`
fn worker_exiting(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, pid) = preceded(tag("Worker exiting "), pid_colon).parse(i)?;
    Ok((i, Event::WorkerExiting { pid }))
}

/// `Autorestarting worker after current request.` (the worker served `max_requests`).
fn autorestarting(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, _) = tag("Autorestarting worker after current request.").parse(i)?;
    Ok((i, Event::WorkerAutorestart))
}

/// `Worker (pid:37) exited with code 1` and its 21–23 twin with a trailing period;
/// `Worker (pid:37) was sent SIGKILL!`, optionally followed by ` Perhaps out of memory?`.
fn worker_pid_status(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, pid) = preceded(tag("Worker "), pid_colon).parse(i)?;
    if let Ok((i, (code, period))) =
        (preceded(tag(" exited with code "), number), opt(char('.'))).parse(i)
    {
        let period = period.is_some();
        return Ok((i, Event::WorkerExitCode { pid, code, period }));
    }
    let (i, signal) = preceded(tag(" was sent "), take_while1(|c: u8| c != b'!')).parse(i)?;
    let (i, _) = char('!').parse(i)?;
    let (i, oom) = opt(tag(" Perhaps out of memory?")).parse(i)?;
    let oom_hint = oom.is_some();
    Ok((
        i,
        Event::WorkerSignalled {
            pid,
            signal,
            oom_hint,
        },
    ))
}

/// `Worker with pid 37 was terminated due to signal 9` (20.1.0 only).
fn worker_terminated(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (_, pid, _, signal)) = (
        tag("Worker with pid "),
        number,
        tag(" was terminated due to signal "),
        number,
    )
        .parse(i)?;
    Ok((i, Event::WorkerTerminatedBySignal { pid, signal }))
}

/// `Reason: Worker failed to boot.` / `Reason: App failed to load.`
fn reason(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, reason) = preceded(tag("Reason: "), rest).parse(i)?;
    Ok((i, Event::BootFailed { reason }))
}

/// `Handling signal: term`
fn handling_signal(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, signal) = preceded(tag("Handling signal: "), rest).parse(i)?;
    Ok((i, Event::HandlingSignal { signal }))
}

/// `Error handling request /slow` (19.4+), `Error handling request GET /slow` (26.x),
/// `Error handling request (no URI read)` (22+) and the bare `Error handling request`.
fn error_handling_request(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, _) = tag("Error handling request").parse(i)?;
    if i.is_empty() || i == b" " {
        let event = Event::ErrorHandlingRequest {
            method: None,
            uri: None,
        };
        return Ok((&i[i.len()..], event));
    }
    let (i, _) = char(' ').parse(i)?;
    if let Ok((i, _)) = tag_end("(no URI read)")(i) {
        return Ok((
            i,
            Event::ErrorHandlingRequest {
                method: None,
                uri: None,
            },
        ));
    }
    let (i, method) = opt((http_method, char(' '))).parse(i)?;
    let (i, uri) = rest(i)?;
    let method = method.map(|m| m.0);
    Ok((
        i,
        Event::ErrorHandlingRequest {
            method,
            uri: Some(uri),
        },
    ))
}

/// `Invalid request from ip=172.17.0.1: Invalid HTTP request line: '…'`. The client may be
/// IPv6 (colons inside), so it ends at the first `: `.
fn invalid_request(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, _) = tag("Invalid request from ip=").parse(i)?;
    let end = memchr::memmem::find(i, b": ").unwrap_or(i.len());
    let client = &i[..end];
    Ok((&i[i.len()..], Event::InvalidRequest { client }))
}

/// Lifecycle messages that matter only as "gunicorn is alive and talking": recognised, not
/// interpreted further.
fn other_known(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, _) = alt((
        tag("Shutting down: "),
        tag("Parent changed, shutting down: "),
        tag("Hang up: "),
        tag("Worker reloading: "),
        tag("Worker graceful timeout "),
        tag("Socket error processing request."),
        tag("Closing connection."),
        tag("Ignor"),
        tag("Arbiter booted"),
        tag("graceful stop of workers"),
        tag("Control socket listening at "),
        // uvicorn worker lifecycle, printed through gunicorn's handlers
        tag("Started server process ["),
        tag("Finished server process ["),
        tag("Waiting for application "),
        tag("Application startup complete."),
        tag("Application shutdown complete."),
        tag("ASGI 'lifespan' protocol appears unsupported."),
    ))
    .parse(i)?;
    Ok((&i[i.len()..], Event::Message))
}

/// `2 workers` (debug; INFO in 19.1).
fn worker_count(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (_, _)) = (number, tag_end(" workers")).parse(i)?;
    Ok((i, Event::Message))
}

/// gunicorn's default `pre_request` hook at DEBUG: `GET /path` (no query string). This is the
/// only request-start line gunicorn itself prints.
pub fn debug_request_start(i: &[u8]) -> PResult<'_, Event<'_>> {
    let (i, (method, _, path)) =
        (http_method, char(' '), take_while1(|c: u8| c != b' ')).parse(i)?;
    if !i.is_empty() || !(path.starts_with(b"/") || path == b"*" || path.starts_with(b"http")) {
        return no_match(i);
    }
    Ok((i, Event::RequestStart { method, path }))
}

/// One gunicorn error-log message (the text after the prefix). `None` when the message is not
/// one of gunicorn's templates.
pub fn message(level: Option<Level>, msg: &[u8]) -> Option<Event<'_>> {
    let parsed = match msg.first()? {
        b'S' => alt((starting, other_known)).parse(msg),
        b'L' => listening(msg),
        b'U' => using_worker(msg),
        b'B' => booting(msg),
        b'W' => alt((
            worker_timeout,
            worker_exiting,
            worker_pid_status,
            worker_terminated,
            other_known,
        ))
        .parse(msg),
        b'R' => reason(msg),
        b'A' => alt((autorestarting, other_known)).parse(msg),
        b'H' => alt((handling_signal, other_known)).parse(msg),
        b'E' => {
            if msg == b"Exception in worker process" {
                return Some(Event::WorkerBootError);
            }
            error_handling_request(msg)
        }
        b'I' => alt((invalid_request, other_known)).parse(msg),
        b'C' => {
            if msg == b"Current configuration:" {
                return Some(Event::ConfigDumpStart);
            }
            other_known(msg)
        }
        b'0'..=b'9' => worker_count(msg),
        _ => other_known(msg),
    };
    match parsed {
        Ok((_, event)) => Some(event),
        Err(_) if level == Some(Level::Debug) => debug_request_start(msg).ok().map(|(_, e)| e),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Option<Event<'_>> {
        message(Some(Level::Info), s.as_bytes())
    }

    #[test]
    fn prefix_new_and_old_layouts() {
        let (rest, (_, pid, level)) = error_log_prefix(
            b"[2024-01-09 13:24:39 +0000] [1637] [CRITICAL] WORKER TIMEOUT (pid:7214)",
        )
        .unwrap();
        assert_eq!((pid, level), (1637, Level::Critical));
        assert_eq!(rest, b"WORKER TIMEOUT (pid:7214)");
        let (rest, (_, pid, _)) =
            error_log_prefix(b"2015-11-12 17:23:50 [17027] [INFO] 6 workers").unwrap();
        assert_eq!((pid, rest), (17027, &b"6 workers"[..]));
        assert!(error_log_prefix(b"[2024-01-09 13:24:39 +0000] [x] [INFO] a").is_err());
        let (rest, level) = level_only_prefix(b"[INFO] Starting gunicorn 21.2.0").unwrap();
        assert_eq!(
            (rest, level),
            (&b"Starting gunicorn 21.2.0"[..], Level::Info)
        );
    }

    #[test]
    fn master_lifecycle() {
        assert_eq!(
            msg("Starting gunicorn 23.0.0"),
            Some(Event::Starting { version: b"23.0.0" })
        );
        assert_eq!(
            msg("Listening at: http://127.0.0.1:18130,unix:/tmp/g.sock (11168)"),
            Some(Event::Listening {
                addrs: b"http://127.0.0.1:18130,unix:/tmp/g.sock"
            })
        );
        assert_eq!(
            msg("Listening at: http://0.0.0.0:8080"),
            Some(Event::Listening {
                addrs: b"http://0.0.0.0:8080"
            })
        );
        assert_eq!(
            msg("Using worker: uvicorn.workers.UvicornWorker"),
            Some(Event::UsingWorker {
                class: b"uvicorn.workers.UvicornWorker"
            })
        );
        assert_eq!(
            msg("Booting worker with pid: 37"),
            Some(Event::Booting { pid: 37 })
        );
        assert_eq!(
            msg("Handling signal: term"),
            Some(Event::HandlingSignal { signal: b"term" })
        );
        assert_eq!(
            msg("Reason: Worker failed to boot."),
            Some(Event::BootFailed {
                reason: b"Worker failed to boot."
            })
        );
        assert_eq!(msg("Shutting down: Master"), Some(Event::Message));
        assert_eq!(
            msg("Exception in worker process"),
            Some(Event::WorkerBootError)
        );
        assert_eq!(msg("Current configuration:"), Some(Event::ConfigDumpStart));
        let (rest, e) = autorestarting(b"Autorestarting worker after current request.").unwrap();
        assert_eq!((rest, e), (&b""[..], Event::WorkerAutorestart));
        assert_eq!(
            msg("Autorestarting worker after current request."),
            Some(Event::WorkerAutorestart)
        );
        assert!(autorestarting(b"Autorestarting worker").is_err());
        assert_eq!(msg("1 workers"), Some(Event::Message));
    }

    #[test]
    fn worker_deaths() {
        assert_eq!(
            msg("WORKER TIMEOUT (pid:7214)"),
            Some(Event::WorkerTimeout { pid: 7214 })
        );
        assert_eq!(
            msg("Worker exiting (pid: 11053)"),
            Some(Event::WorkerExiting { pid: 11053 })
        );
        assert_eq!(
            msg("Worker (pid:11053) exited with code 1"),
            Some(Event::WorkerExitCode {
                pid: 11053,
                code: 1,
                period: false
            })
        );
        assert_eq!(
            msg("Worker (pid:11053) exited with code 1."),
            Some(Event::WorkerExitCode {
                pid: 11053,
                code: 1,
                period: true
            })
        );
        assert_eq!(
            msg("Worker (pid:9) was sent SIGKILL! Perhaps out of memory?"),
            Some(Event::WorkerSignalled {
                pid: 9,
                signal: b"SIGKILL",
                oom_hint: true
            })
        );
        assert_eq!(
            msg("Worker (pid:9) was sent SIGTERM!"),
            Some(Event::WorkerSignalled {
                pid: 9,
                signal: b"SIGTERM",
                oom_hint: false
            })
        );
        assert_eq!(
            msg("Worker (pid:9) was sent code 134!"),
            Some(Event::WorkerSignalled {
                pid: 9,
                signal: b"code 134",
                oom_hint: false
            })
        );
        assert_eq!(
            msg("Worker with pid 9 was terminated due to signal 9"),
            Some(Event::WorkerTerminatedBySignal { pid: 9, signal: 9 })
        );
        assert_eq!(msg("WORKER TIMEOUT (pid:x)"), None);
    }

    #[test]
    fn request_errors() {
        assert_eq!(
            msg("Error handling request /slow?x=1"),
            Some(Event::ErrorHandlingRequest {
                method: None,
                uri: Some(b"/slow?x=1")
            })
        );
        assert_eq!(
            msg("Error handling request GET /slow"),
            Some(Event::ErrorHandlingRequest {
                method: Some(b"GET"),
                uri: Some(b"/slow")
            })
        );
        assert_eq!(
            msg("Error handling request (no URI read)"),
            Some(Event::ErrorHandlingRequest {
                method: None,
                uri: None
            })
        );
        assert_eq!(
            msg("Error handling request"),
            Some(Event::ErrorHandlingRequest {
                method: None,
                uri: None
            })
        );
        assert_eq!(
            msg("Invalid request from ip=172.17.0.1: Invalid HTTP request line: ''"),
            Some(Event::InvalidRequest {
                client: b"172.17.0.1"
            })
        );
    }

    #[test]
    fn debug_start_line_only_at_debug() {
        assert_eq!(
            message(Some(Level::Debug), b"POST /4.0/profiles/x/checks"),
            Some(Event::RequestStart {
                method: b"POST",
                path: b"/4.0/profiles/x/checks"
            })
        );
        assert_eq!(
            message(Some(Level::Info), b"POST /4.0/profiles/x/checks"),
            None
        );
        assert_eq!(message(Some(Level::Debug), b"GET /a b"), None);
        assert_eq!(
            message(Some(Level::Debug), b"Closing connection. "),
            Some(Event::Message)
        );
        let (rest, _) = debug_request_start(b"GET /x").unwrap();
        assert!(rest.is_empty());
    }
}
