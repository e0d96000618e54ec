//! gunicorn's own life and its workers': the arbiter starting, listening, booting workers,
//! workers timing out, being killed or exiting (each orphans the requests open on it), boot
//! errors and failures, and the timeout in its config dump.

use rustc_hash::FxHashSet;

use super::notices::{AlertKind, Notices};
use super::records::{lossy, lossy_cow, Book};
use super::{keep, Analysis, Cause, Evidence, Line};
use crate::parse::Event;

/// What one stream knows of its workers between lines.
#[derive(Default)]
pub(super) struct Workers {
    /// Workers that timed out (a SIGKILL that follows escalates the timeout).
    timed_out: FxHashSet<u32>,
    /// The last `exited with code` (pid, code): gunicorn logs some twice.
    last_exit: Option<(u32, u32)>,
    /// gunicorn is stopping on purpose: the `Handling signal: term` (or int, quit) line that
    /// told it, the evidence for requests still open when the input ends before `Shutting
    /// down: Master`. A boot or a new start after it ends the stop.
    stopping: Option<Evidence>,
    /// Workers booted and not yet seen to die (their pids).
    alive: FxHashSet<u32>,
    /// The workers a reload (`Handling signal: hup`) replaces: those alive, or with requests
    /// open, when it came. gunicorn SIGTERMs them once the new ones are up; what they still
    /// have open when they go was cut by that planned stop.
    replaced: FxHashSet<u32>,
}

/// Requests open on worker pid are orphaned, by that cause, with that evidence.
pub(super) type Orphaning = (u32, Cause, Evidence);

/// gunicorn ≥ 22 can die of an uncaught `HaltServer` instead of logging `Reason:`.
pub(super) fn halts(exc_type: &[u8], message: &[u8]) -> bool {
    exc_type.ends_with(b"HaltServer") && memchr::memmem::find(message, b"failed to").is_some()
}

impl Workers {
    /// A line of gunicorn's arbiter or of a worker's life (other events are ignored). Returns
    /// the worker whose open requests the line orphans.
    #[cold]
    pub(super) fn on_event(
        &mut self,
        event: &Event<'_>,
        line: &Line<'_>,
        out: &mut Analysis,
        notices: &mut Notices,
        book: &Book,
    ) -> Option<Orphaning> {
        let orphaning = self.on_life_event(event, line, out, notices, book);
        if let Some((w, ..)) = &orphaning {
            self.alive.remove(w);
        }
        orphaning
    }

    /// [`Workers::on_event`] without keeping the live workers' list.
    fn on_life_event(
        &mut self,
        event: &Event<'_>,
        line: &Line<'_>,
        out: &mut Analysis,
        notices: &mut Notices,
        book: &Book,
    ) -> Option<Orphaning> {
        let time = line.time;
        match event {
            Event::Starting { .. } => {
                self.stopping = None;
                self.alive.clear();
                self.replaced.clear();
                server_line(event, line, out);
            }
            Event::Booting { pid: w } => {
                // A new worker may reuse the pid of one that timed out long ago.
                self.timed_out.remove(w);
                self.alive.insert(*w);
                out.workers.booted += 1;
                out.time.timeline.at(time, |b| b.worker_boots += 1);
                self.stopping = None;
            }
            Event::HandlingSignal { signal } => {
                if matches!(*signal, b"term" | b"int" | b"quit") {
                    out.workers.stops += 1;
                    self.stopping = Some(line.evidence());
                } else if *signal == b"hup" {
                    out.workers.reloads += 1;
                    self.replaced = self.alive.clone();
                    self.replaced.extend(book.open.keys().copied());
                }
            }
            Event::WorkerTimeout { pid: w } => {
                out.workers.timeouts += 1;
                out.time.timeline.at(time, |b| b.worker_timeouts += 1);
                self.timed_out.insert(*w);
                let e = line.evidence();
                keep(&mut out.workers.timeout_evidence, || e.clone());
                let hung = book.open.get(w).and_then(|v| v.front()).map(|id| {
                    let r = &book.reqs[id];
                    format!(" while serving {} {}", r.method, lossy_cow(r.path()))
                });
                let message = format!("worker {w} timed out{}", hung.unwrap_or_default());
                notices.alert(AlertKind::WorkerTimeout, message, time, &e);
                return Some((*w, Cause::WorkerTimeout, e));
            }
            // SIGTERM/SIGINT/SIGQUIT are gunicorn's own graceful stops (shutdown, boot failure
            // halt, scale-down, uvicorn's normal exit): not a death to report.
            Event::WorkerSignalled {
                pid: w,
                signal,
                oom_hint,
            } if !matches!(*signal, b"SIGTERM" | b"SIGINT" | b"SIGQUIT") => {
                let kill = *signal == b"SIGKILL";
                let signal = lossy(signal);
                return Some(self.killed(*w, (signal, kill, *oom_hint), line, out, notices));
            }
            // gunicorn 23's `[ERROR] Worker (pid:N) was sent SIGTERM!` while it stops, or to a
            // worker a reload replaces: what the worker had open was cut by that planned stop.
            // (Otherwise it is no death either, and its requests are left to their own lines.)
            Event::WorkerSignalled { pid: w, .. }
                if self.stopping.is_some() || self.replaced.remove(w) =>
            {
                return Some((*w, Cause::Shutdown, line.evidence()));
            }
            // 20.1's `Worker with pid N was terminated due to signal 15` on a reload: the same.
            Event::WorkerTerminatedBySignal { pid: w, signal: 15 } if self.replaced.remove(w) => {
                return Some((*w, Cause::Shutdown, line.evidence()));
            }
            // gunicorn 20.1 names the signal by number and never says "out of memory": an
            // unexplained 9 is the same suspicion.
            Event::WorkerTerminatedBySignal { pid: w, signal }
                if !matches!(*signal, 2 | 3 | 15) =>
            {
                let kill = *signal == 9;
                let signal = format!("signal {signal}");
                return Some(self.killed(*w, (signal, kill, kill), line, out, notices));
            }
            Event::WorkerExitCode {
                pid: w,
                code,
                period,
            } => {
                let twin = *period && self.last_exit == Some((*w, *code));
                self.last_exit = Some((*w, *code));
                if !twin {
                    out.workers.exits += 1;
                    let e = line.evidence();
                    if *code == 3 || *code == 4 {
                        keep(&mut out.workers.boot_evidence, || e.clone());
                    }
                    return Some((*w, self.exit_cause(*w), e));
                }
            }
            Event::WorkerExiting { pid: w } => {
                return Some((*w, self.exit_cause(*w), line.evidence()));
            }
            Event::WorkerAutorestart => out.workers.planned_restarts += 1,
            Event::WorkerBootError => {
                out.workers.boot_errors += 1;
                keep(&mut out.workers.boot_evidence, || line.evidence());
            }
            Event::BootFailed { reason } => {
                let message = format!("gunicorn gave up: {}", lossy(reason));
                boot_failed(message, line, out, notices);
            }
            Event::ExceptionLine { exc_type, message } if halts(exc_type, message) => {
                let message = format!("gunicorn halted: {}", lossy(message));
                boot_failed(message, line, out, notices);
            }
            _ => server_line(event, line, out),
        }
        None
    }

    /// Why a worker that exits leaves its open requests unanswered: the server's stop (or a
    /// reload replacing it), or the worker's own exit.
    fn exit_cause(&self, w: u32) -> Cause {
        if self.stopping.is_some() || self.replaced.contains(&w) {
            Cause::Shutdown
        } else {
            Cause::WorkerExited
        }
    }

    /// gunicorn's `Shutting down: Master`: after a signal to stop, every request still open
    /// was cut by the stop. (Without one, the master is giving up, which its own lines tell.)
    pub(super) fn master_down(&self, text: &[u8]) -> bool {
        self.stopping.is_some() && text.starts_with(b"Shutting down: Master")
    }

    /// gunicorn was told to stop and nothing since says it went on (no boot, no new start):
    /// the line that told it, for requests still open when the input ends. The stop was
    /// under way, so they were cut by it, even without `Shutting down: Master`.
    pub(super) fn stopping(&self) -> Option<&Evidence> {
        self.stopping.as_ref()
    }

    /// A worker died of a signal gunicorn did not send for a graceful stop.
    fn killed(
        &mut self,
        w: u32,
        (signal, sigkill, oom_hint): (String, bool, bool),
        line: &Line<'_>,
        out: &mut Analysis,
        notices: &mut Notices,
    ) -> Orphaning {
        let e = line.evidence();
        let mut cause = Cause::WorkerKilled;
        if sigkill && self.timed_out.contains(&w) {
            out.workers.kills_after_timeout += 1;
            out.workers.killed += 1;
        } else if sigkill && self.stopping.is_some() {
            // A request outlived graceful_timeout while gunicorn was stopping: the stop cut
            // it, whatever gunicorn's `Perhaps out of memory?` says.
            out.workers.kills_during_shutdown += 1;
            cause = Cause::Shutdown;
        } else {
            if oom_hint {
                out.workers.oom_suspected += 1;
                keep(&mut out.workers.oom_evidence, || e.clone());
            }
            out.workers.killed += 1;
        }
        keep(&mut out.workers.kill_evidence, || e.clone());
        let message = format!("worker {w} was sent {signal}");
        notices.alert(AlertKind::WorkerKilled, message, line.time, &e);
        (w, cause, e)
    }
}

/// A line of gunicorn's arbiter about the server itself: its version, where it listens, its
/// worker class, its timeout.
fn server_line(event: &Event<'_>, line: &Line<'_>, out: &mut Analysis) {
    match event {
        Event::Starting { version } => {
            let v = lossy(version);
            if !out.workers.gunicorn_versions.contains(&v) {
                out.workers.gunicorn_versions.push(v);
            }
            keep(&mut out.workers.start_evidence, || line.evidence());
        }
        Event::Listening { addrs } => {
            for a in addrs.split(|&c| c == b',') {
                let a = lossy(a);
                if !out.workers.listening.contains(&a) {
                    out.workers.listening.push(a);
                }
            }
        }
        Event::UsingWorker { class } => out.workers.class = Some(lossy(class)),
        Event::ConfigValue {
            key: b"timeout",
            value,
        } => {
            // `timeout: 0` means no timeout at all in gunicorn; anything not a positive
            // number says nothing usable.
            let t = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok());
            if let Some(t) = t.filter(|t| t.is_finite() && *t > 0.0) {
                out.workers.timeout_from_logs = Some(t);
            }
        }
        _ => {}
    }
}

/// gunicorn gave up booting (`Reason:` or an uncaught `HaltServer`).
fn boot_failed(message: String, line: &Line<'_>, out: &mut Analysis, notices: &mut Notices) {
    out.workers.boot_failed = true;
    let e = line.evidence();
    notices.alert(AlertKind::BootFailure, message, line.time, &e);
    keep(&mut out.workers.boot_evidence, || e);
}

#[cfg(test)]
mod tests {
    use crate::correlate::{run, Cause};

    #[test]
    fn timeout_orphans_and_twin_exit_lines_count_once() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /slow/ from 1.2.3.4 Host: app.example.com",
            "[2025-10-16 08:00:30 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:30 +0000] [36] [INFO] Worker exiting (pid: 36)",
            "[2025-10-16 08:00:30 +0000] [1] [ERROR] Worker (pid:36) exited with code 1",
            "[2025-10-16 08:00:30 +0000] [1] [ERROR] Worker (pid:36) exited with code 1.",
            "[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
        ]);
        assert_eq!(a.traffic.orphans_total, 1);
        assert_eq!(a.traffic.orphans[0].cause, Cause::WorkerTimeout);
        assert_eq!(a.traffic.orphans[0].request.open_seconds, Some(30.0));
        assert_eq!(a.workers.exits, 1);
        assert_eq!(a.workers.oom_suspected, 0);
        assert_eq!(a.workers.kills_after_timeout, 1);
    }

    /// A reload (gunicorn 23's lines from sample-logs/stacks/g23-dj52/reload_hup, with a
    /// request left open on a replaced worker): the reload's SIGTERM cut it, a planned stop.
    /// The new workers' requests and a worker that exits on its own are not the reload's.
    #[test]
    fn requests_open_on_a_worker_a_reload_replaces_are_cut_by_the_stop() {
        let a = run(&[
            "[2026-12-04 08:33:21 +0000] [22446] [INFO] Booting worker with pid: 22446",
            "[2026-12-04 08:33:21 +0000] [22472] [INFO] Booting worker with pid: 22472",
            "[2026-12-04 08:33:22 +0000] [22472] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:33:22 +0000] [22442] [INFO] Handling signal: hup",
            "[2026-12-04 08:33:22 +0000] [22442] [INFO] Hang up: Master",
            "[2026-12-04 08:33:22 +0000] [22746] [INFO] Booting worker with pid: 22746",
            "[2026-12-04 08:33:22 +0000] [22746] [INFO] INCOMING REQUEST: GET /a/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:33:22 +0000] [22446] [INFO] Worker exiting (pid: 22446)",
            "[2026-12-04 08:33:52 +0000] [22442] [ERROR] Worker (pid:22472) was sent SIGTERM!",
            "[2026-12-04 08:33:52 +0000] [22442] [ERROR] Worker (pid:22446) was sent SIGTERM!",
            "[2026-12-04 08:33:53 +0000] [22746] [INFO] Worker exiting (pid: 22746)",
        ]);
        let causes: Vec<(&str, Cause)> = a
            .traffic
            .orphans
            .iter()
            .map(|o| (o.request.path.as_str(), o.cause))
            .collect();
        assert_eq!(
            causes,
            [("/export/", Cause::Shutdown), ("/a/", Cause::WorkerExited)]
        );
        assert_eq!((a.workers.killed, a.workers.oom_suspected), (0, 0));
        assert_eq!((a.workers.reloads, a.workers.stops), (1, 0));
        // gunicorn 20.1 words the reload's SIGTERM by number (g20-dj32/reload_hup).
        let a = run(&[
            "[2026-12-04 08:29:35 +0000] [24736] [INFO] Booting worker with pid: 24736",
            "[2026-12-04 08:29:35 +0000] [24736] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:29:35 +0000] [24732] [INFO] Handling signal: hup",
            "[2026-12-04 08:29:36 +0000] [24732] [WARNING] Worker with pid 24736 was terminated due to signal 15",
        ]);
        assert_eq!(a.traffic.orphans.len(), 1);
        assert_eq!(a.traffic.orphans[0].cause, Cause::Shutdown);
        // Without a reload, 20.1's signal 15 leaves the request to its own lines.
        let a = run(&[
            "[2026-12-04 08:29:35 +0000] [24736] [INFO] Booting worker with pid: 24736",
            "[2026-12-04 08:29:35 +0000] [24736] [INFO] INCOMING REQUEST: GET /export/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:29:36 +0000] [24732] [WARNING] Worker with pid 24736 was terminated due to signal 15",
        ]);
        assert!(a.traffic.orphans.iter().all(|o| o.cause != Cause::Shutdown));
    }

    /// `Handling signal: term` and the log ends (the master's last lines lost, or the log cut
    /// while it stops): what is still open was cut by the stop under way, not in flight.
    #[test]
    fn requests_open_at_the_end_of_a_stop_are_cut_by_it() {
        let a = run(&[
            "[2026-12-04 08:29:02 +0000] [24521] [INFO] INCOMING REQUEST: GET /stuck/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:29:03 +0000] [24518] [INFO] Handling signal: term",
        ]);
        assert_eq!(a.traffic.orphans.len(), 1);
        assert_eq!(a.traffic.orphans[0].cause, Cause::Shutdown);
        assert!(a.traffic.in_flight.is_empty());
        // A boot after the signal: gunicorn went on, the request is in flight.
        let a = run(&[
            "[2026-12-04 08:29:02 +0000] [24521] [INFO] INCOMING REQUEST: GET /stuck/ from 127.0.0.1 Host: app.example.com",
            "[2026-12-04 08:29:03 +0000] [24518] [INFO] Handling signal: term",
            "[2026-12-04 08:29:04 +0000] [24600] [INFO] Starting gunicorn 23.0.0",
        ]);
        assert!(a.traffic.orphans.is_empty());
        assert_eq!(a.traffic.in_flight.len(), 1);
    }

    #[test]
    fn a_reused_pid_does_not_inherit_an_old_timeout() {
        let a = run(&[
            "[2025-10-16 08:00:30 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:36)",
            "[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
            "[2025-10-16 09:00:00 +0000] [36] [INFO] Booting worker with pid: 36",
            "[2025-10-16 09:30:00 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?",
        ]);
        assert_eq!(a.workers.kills_after_timeout, 1);
        assert_eq!(a.workers.oom_suspected, 1);
    }

    #[test]
    fn oom_without_timeout_is_suspected() {
        let a = run(&["[2025-10-16 08:00:31 +0000] [1] [ERROR] Worker (pid:36) was sent SIGKILL! Perhaps out of memory?"]);
        assert_eq!(a.workers.oom_suspected, 1);
        assert_eq!(a.workers.killed, 1);
    }

    #[test]
    fn requests_open_when_a_stopped_master_shuts_down_are_cut_by_the_stop() {
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:00 +0000] [37] [INFO] INCOMING REQUEST: GET /b/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:01 +0000] [1] [INFO] Handling signal: term",
            "[2025-10-16 08:00:02 +0000] [1] [ERROR] Worker (pid:36) was sent SIGTERM!",
            "[2025-10-16 08:00:02 +0000] [1] [INFO] Shutting down: Master",
        ]);
        assert_eq!(a.traffic.orphans_total, 2);
        assert!(a.traffic.orphans.iter().all(|o| o.cause == Cause::Shutdown));
        assert_eq!((a.workers.killed, a.workers.oom_suspected), (0, 0));
        // Without a signal to stop, the master's going down is its own story.
        let a = run(&[
            "[2025-10-16 08:00:00 +0000] [36] [INFO] INCOMING REQUEST: GET /a/ from 1.2.3.4 Host: h",
            "[2025-10-16 08:00:02 +0000] [1] [INFO] Shutting down: Master",
        ]);
        assert!(a.traffic.orphans.iter().all(|o| o.cause != Cause::Shutdown));
    }
}
