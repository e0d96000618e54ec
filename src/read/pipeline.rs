//! The per-line stages of one stream of lines, whatever way they are read: envelope → parse
//! (each input's own [`InputState`]) → the pod's correlator, with the `--since` / `--until`
//! window and notices.

use std::mem::take;
use std::sync::Arc;
use std::time::Instant;

use super::chunked::{self, Chunk};
use super::line::{reparse, strip_and_parse, InputState, LineBody, LineBuffers, ParsedLine};
use super::{ByPod, Window};
use crate::correlate::edge::{role_of, EdgeLog, Role, RoleReason};
use crate::correlate::{
    settle_timeout, users, Analysis, Correlator, Notice, PodSummary, StreamEnd, MAX_PODS,
};
use crate::input::{LineReader, Progress};
use crate::parse::{Event, Parsed, Ts};
use crate::settings::{Patterns, Settings};

/// The per-line stages for one merged stream of lines.
pub struct Pipeline {
    /// The settings' patterns, at hand for the front half.
    patterns: Arc<Patterns>,
    /// Each input's stripper and parsers, by the index [`Pipeline::add_file`] gave.
    inputs: Vec<InputState>,
    buffers: LineBuffers,
    back: Correlating,
}

/// One input's own facts for the back half.
struct FileState {
    name: Arc<str>,
    last_time: Option<Ts>,
    /// Each pod's role (edge or app), why, and its source in the edge log: decided the first
    /// time the pod has an access or edge line.
    roles: ByPod<(Role, RoleReason, usize)>,
    /// Lines of the app's own besides access lines (gunicorn's, Django's, tracebacks).
    app_lines: u64,
}

impl FileState {
    /// Whose lines `pod`'s of this input are (edge or app), why, and its source in the edge log,
    /// with its slot in `roles`: decided the first time it has an access or edge line.
    fn role(
        &mut self,
        pod: &[u8],
        edges: &[String],
        log: &mut EdgeLog,
    ) -> (usize, (Role, RoleReason, usize)) {
        let name = &self.name;
        let k = self.roles.slot(pod, |pod| {
            let pod = String::from_utf8_lossy(pod);
            let (role, why) = role_of(edges, name, &pod);
            let source = if pod.is_empty() {
                name.to_string()
            } else {
                pod.into_owned()
            };
            (role, why, log.source(source, role, why))
        });
        (k, self.roles.items[k].1)
    }
}

/// The back half: each pod's correlator, and which lines the window lets through.
struct Correlating {
    settings: Arc<Settings>,
    window: Window,
    files: Vec<FileState>,
    /// Correlators per pod, in order of first appearance.
    pods: ByPod<Correlator>,
    /// The edge's records, whatever pod or file they come from.
    edge: EdgeLog,
    /// An edge's line was read, or an input is named an edge's: every correlator keeps its
    /// traces for pairing from then on.
    edge_seen: bool,
    /// A structured record's decoded fields, for the chunks' lines left to decode.
    decoded: Vec<u8>,
    filtered: u64,
    /// Hand out notices (finished requests, alerts) as they happen.
    notify: bool,
    /// When the last line with a time arrived, and that time: log time "now" while following.
    last_arrival: Option<(Instant, Ts)>,
    /// Keep `last_arrival` (while following, and for snapshots taken while reading): reading the
    /// wall clock at every line costs a run over files more than it tells.
    clock: bool,
}

impl Pipeline {
    pub fn new(settings: Arc<Settings>, window: Window) -> Pipeline {
        Pipeline {
            patterns: settings.patterns.clone(),
            inputs: Vec::new(),
            buffers: LineBuffers::default(),
            back: Correlating {
                settings,
                window,
                files: Vec::new(),
                pods: ByPod::default(),
                edge: EdgeLog::default(),
                edge_seen: false,
                decoded: Vec::new(),
                filtered: 0,
                notify: false,
                last_arrival: None,
                clock: false,
            },
        }
    }

    /// Asks for notices: see [`Pipeline::drain_notices`].
    pub fn with_notices(mut self) -> Pipeline {
        self.back.notify = true;
        self
    }

    /// Asks for the log's clock to be kept while reading, for [`Pipeline::tick`]'s alerts and
    /// [`Pipeline::snapshot`]'s ages.
    pub fn with_clock(mut self) -> Pipeline {
        self.back.clock = true;
        self
    }

    /// Whether notices were asked for.
    pub fn notifies(&self) -> bool {
        self.back.notify
    }

    /// The team's own request patterns, which every parser of the stream tries.
    pub fn patterns(&self) -> &Arc<Patterns> {
        &self.patterns
    }

    /// Hands the finished requests and alerts since the last call to `emit`, in the order they
    /// happened per pod.
    pub fn drain_notices(&mut self, emit: &mut dyn FnMut(Notice)) {
        for (_, c) in &mut self.back.pods.items {
            c.drain_notices(emit);
        }
    }

    /// The log's clock while following: the last line's time plus the wall time since it
    /// arrived.
    fn log_now(&self) -> Option<Ts> {
        let (at, t) = self.back.last_arrival?;
        Some(Ts(t.0 + at.elapsed().as_micros() as i64))
    }

    /// Lets the correlators alert on requests open too long, by the log's clock.
    pub fn tick(&mut self) {
        let Some(now) = self.log_now() else {
            return;
        };
        for (_, c) in &mut self.back.pods.items {
            c.tick(now);
        }
    }

    /// Registers an input; returns its index for [`Pipeline::line`]. An input whose name
    /// already says it is an edge's makes the correlators keep their traces from the start: its
    /// clock may run behind or ahead of the app's, so its lines may come well after the app's
    /// requests they are about.
    pub fn add_file(&mut self, name: &str) -> usize {
        if role_of(&self.back.settings.edges, name, "").0 == Role::Edge {
            self.back.edge_seen = true;
        }
        self.back.files.push(FileState {
            name: Arc::from(name),
            last_time: None,
            roles: ByPod::default(),
            app_lines: 0,
        });
        self.inputs.push(InputState::default());
        self.inputs.len() - 1
    }

    /// Runs one line of input `file` through envelope → parse → correlate.
    pub fn line(&mut self, file: usize, line_no: u64, raw: &[u8]) {
        let back = &mut self.back;
        let state = &mut self.inputs[file];
        strip_and_parse(state, &self.patterns, raw, &mut self.buffers, |line| {
            back.take(file, line_no, line)
        });
    }

    /// Makes `chunk` (made by [`chunked`]) the next of input `file`'s lines, and returns the
    /// chunk to take them from. It was parsed from a fresh stripper and fresh parsers: right
    /// when the input's stand between records. Else its lines are parsed again, in the same
    /// buffers, from where the input's stand: only its first lines when just the parsers
    /// differed (a chunk that begins inside a traceback), all of them when the stripper did
    /// (inside a CRI partial line). Either way the input's stripper and parsers move on to
    /// where they stand after the chunk.
    pub(super) fn enter(&mut self, file: usize, chunk: Chunk) -> Chunk {
        let f = &mut self.inputs[file];
        let patterns = &self.patterns;
        let stripped_alike = f.unwrapper.is_idle()
            && f.parsers.items.len() + chunk.parsed().parsers.items.len() <= MAX_PODS;
        let chunk = if !stripped_alike {
            chunk.remake(patterns, f.clone())
        } else if f.parsers.items.iter().all(|(_, p)| p.is_idle()) {
            chunk
        } else {
            chunk.resume_parsing(patterns, f.parsers.clone())
        };
        f.unwrapper = chunk.unwrapper().clone();
        for (pod, parser) in &chunk.parsed().parsers.items {
            let k = f.parsers.slot(pod, |_| parser.clone());
            f.parsers.items[k].1 = parser.clone();
        }
        chunk
    }

    /// Line `line_no` of input `file`, from a chunk entered with [`Pipeline::enter`].
    pub(super) fn take(&mut self, file: usize, line_no: u64, line: &ParsedLine<'_>) {
        self.back.take(file, line_no, line);
    }

    /// Takes all the lines of a chunk of input `file`, in order; gives the chunk back.
    fn chunk(
        &mut self,
        file: usize,
        line_no: &mut u64,
        chunk: Chunk,
        after_line: &mut dyn FnMut(&mut Pipeline),
    ) -> Chunk {
        let chunk = self.enter(file, chunk);
        for line in chunk.lines() {
            *line_no += 1;
            self.back.take(file, *line_no, &line);
            if self.back.notify {
                after_line(self);
            }
        }
        chunk
    }

    /// Reads all of `reader` (input `file`) in chunks of about `size` bytes parsed on every
    /// core, `after_line` called after each line when notices are asked for; returns the read
    /// error that stopped it, if any.
    pub(super) fn read_chunked(
        &mut self,
        file: usize,
        reader: &mut LineReader<'_>,
        size: usize,
        progress: &dyn Progress,
        after_line: &mut dyn FnMut(&mut Pipeline),
    ) -> Option<std::io::Error> {
        let patterns = self.patterns.clone();
        let mut line_no = 0;
        let mut consume = |c: Chunk| self.chunk(file, &mut line_no, c, after_line);
        chunked::pump(reader, size, &patterns, &mut consume, progress)
    }

    /// The analysis of everything read so far, every stream left open (`--metrics-listen`):
    /// each pod's [`Correlator::snapshot`], open requests aged by the log's clock, merged as
    /// [`Pipeline::finish`] merges them, with the edge's records so far.
    pub fn snapshot(&self) -> Analysis {
        self.back.snapshot(self.log_now())
    }

    /// Ends every stream; returns the analysis and the last notices (requests still open).
    /// Facts of the whole input are settled first, so that every pod judges its open
    /// requests alike.
    pub fn finish(self) -> (Analysis, Vec<Notice>) {
        self.back.finish()
    }
}

impl Correlating {
    /// Line `line_no` of input `file`, parsed, into its pod's correlator.
    fn take(&mut self, file: usize, line_no: u64, line: &ParsedLine<'_>) {
        let (raw, pod, time) = (line.raw, line.pod, line.time);
        match *line.body {
            LineBody::Partial => self.partial(),
            LineBody::Parsed(Ok(ref p)) => self.parsed(file, line_no, raw, pod, time, p),
            LineBody::Parsed(Err(_)) => self.reparsed(file, line_no, line),
        }
    }

    /// [`Correlating::take`] for a line left to decode: parsed now, then taken.
    #[cold]
    fn reparsed(&mut self, file: usize, line_no: u64, line: &ParsedLine<'_>) {
        let mut decoded = take(&mut self.decoded);
        let p = reparse(&self.settings.patterns, line.payload, &mut decoded);
        self.parsed(file, line_no, line.raw, line.pod, line.time, &p);
        self.decoded = decoded;
    }

    /// Counts a CRI partial record (its text waits for the rest of the line).
    #[cold]
    fn partial(&mut self) {
        let k = self.correlator(b"");
        self.pods.items[k].1.count_partial();
    }

    /// The correlator of `pod`, made the first time it is seen.
    fn correlator(&mut self, pod: &[u8]) -> usize {
        let (settings, notify, edge_seen) = (&self.settings, self.notify, self.edge_seen);
        self.pods.slot(pod, |key| {
            let mut c = Correlator::new(settings.clone());
            if edge_seen {
                c.keep_traces();
            }
            if notify {
                let name = (!key.is_empty()).then(|| Arc::from(String::from_utf8_lossy(key)));
                c.enable_notices(name);
            }
            c
        })
    }

    /// The back half of a line: the parsed line of `pod`, with the time its envelope gave, into
    /// the pod's correlator (unless `--since` / `--until` leave it out). Inlined: a call with
    /// its six arguments, between `take` and `feed`, cost ~13 instructions a line.
    #[inline(always)]
    fn parsed(
        &mut self,
        file: usize,
        line_no: u64,
        raw: &[u8],
        pod: &[u8],
        envelope_time: Option<Ts>,
        parsed: &Parsed<'_>,
    ) {
        let k = self.correlator(pod);
        let f = &mut self.files[file];
        let time = envelope_time.or(parsed.time);
        f.last_time = time.or(f.last_time);
        if let (Some(t), true) = (time, self.clock) {
            self.last_arrival = Some((Instant::now(), t));
        }
        // Continuation lines (tracebacks) take the time of the record above them.
        if !self.window.admits(f.last_time) {
            self.filtered += 1;
            return;
        }
        let app = match parsed.event {
            Event::Access(_) | Event::Edge(_) => {
                self.edge_or_app(file, pod, (line_no, raw, time), &parsed.event)
            }
            Event::Unrecognized | Event::Blank => true,
            _ => {
                f.app_lines += 1;
                true
            }
        };
        let (f, correlator) = (&self.files[file], &mut self.pods.items[k].1);
        if app {
            correlator.feed(&f.name, line_no, raw, envelope_time, parsed);
        } else {
            correlator.count_edge_line();
        }
    }

    /// An access line or an edge's line of `pod` in input `file`: into the edge log when it is
    /// the edge's (then `false`), else counted as the app's (`true`: the app's correlator takes
    /// it). The first edge line makes every correlator keep its traces for pairing.
    fn edge_or_app(
        &mut self,
        file: usize,
        pod: &[u8],
        (line_no, raw, time): (u64, &[u8], Option<Ts>),
        event: &Event<'_>,
    ) -> bool {
        let f = &mut self.files[file];
        let (slot, (role, why, source)) = f.role(pod, &self.settings.edges, &mut self.edge);
        if !self.edge_seen && (role == Role::Edge || matches!(event, Event::Edge(_))) {
            self.edge_seen = true;
            for (_, c) in &mut self.pods.items {
                c.keep_traces();
            }
        }
        let at = (&f.name, line_no, raw);
        match event {
            Event::Edge(rec) => {
                if role == Role::App {
                    let (role, why) = self.edge.claim(source);
                    f.roles.items[slot].1 = (role, why, source);
                }
                self.edge.record(source, rec, time, at);
                false
            }
            Event::Access(a) if role == Role::Edge => {
                self.edge.access_as_edge(source, a, at);
                false
            }
            _ => {
                if why == RoleReason::Default {
                    self.edge.app_access_line(source);
                }
                true
            }
        }
    }

    /// See [`Pipeline::snapshot`].
    fn snapshot(&self, now: Option<Ts>) -> Analysis {
        let mut total = Analysis::default();
        let named = self.pods.items.iter().any(|(k, _)| !k.is_empty());
        for (pod, c) in &self.pods.items {
            let mut a = c.snapshot(now);
            let edge_only = a.input.edge > 0 && a.traffic.total == 0;
            if named && !edge_only {
                a.pods
                    .push(PodSummary::of(&String::from_utf8_lossy(pod), &a));
            }
            total.merge(a);
        }
        total.input.lines += self.filtered;
        total.input.filtered += self.filtered;
        let mut edge = self.edge.clone();
        for f in &self.files {
            if f.app_lines == 0 {
                for (_, (_, _, source)) in &f.roles.items {
                    edge.unclear(*source);
                }
            }
        }
        total.edge = edge.finish(app_side(&total));
        if !total.edge.is_empty() {
            users::explain(&mut total);
        }
        total
    }

    /// Ends every stream; returns the analysis and the last notices (requests still open).
    /// Facts of the whole input (its end, the timeout, whether ends are logged at all) are
    /// settled first, so that every pod judges its open requests alike.
    fn finish(mut self) -> (Analysis, Vec<Notice>) {
        for (_, c) in &mut self.pods.items {
            c.settle_waiting();
        }
        let mut total = Analysis::default();
        let mut notices = Vec::new();
        let named = self.pods.items.iter().any(|(k, _)| !k.is_empty());
        let logs = self
            .pods
            .items
            .iter()
            .find_map(|(_, c)| c.analysis().workers.timeout_from_logs);
        let orphans: Vec<_> = self
            .pods
            .items
            .iter()
            .flat_map(|(_, c)| c.analysis().traffic.orphans.iter().cloned())
            .collect();
        let end = StreamEnd {
            now: self
                .pods
                .items
                .iter()
                .filter_map(|(_, c)| c.last_time())
                .max(),
            timeout: settle_timeout(self.settings.timeout, logs, &orphans).seconds,
            ends_logged: self.pods.items.iter().any(|(_, c)| c.ends_logged()),
        };
        for (pod, mut c) in self.pods.items {
            let mut a = c.end_stream(&end);
            c.drain_notices(&mut |n| notices.push(n));
            // An edge's service (nginx-1) is no pod of the app: its lines are in the edge section.
            let edge_only = a.input.edge > 0 && a.traffic.total == 0;
            if named && !edge_only {
                a.pods
                    .push(PodSummary::of(&String::from_utf8_lossy(&pod), &a));
            }
            total.merge(a);
        }
        total.input.lines += self.filtered;
        total.input.filtered += self.filtered;
        for f in &self.files {
            if f.app_lines == 0 {
                for (_, (_, _, source)) in &f.roles.items {
                    self.edge.unclear(*source);
                }
            }
        }
        total.edge = self.edge.finish(app_side(&total));
        if !total.edge.is_empty() {
            users::explain(&mut total);
        }
        (total, notices)
    }
}

/// Whether the input showed the app's side at all (its requests, its workers, its lines).
fn app_side(total: &Analysis) -> bool {
    total.traffic.total > 0
        || total.workers.booted > 0
        || !total.workers.gunicorn_versions.is_empty()
        || total.input.app_request_lines > 0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::correlate::{Cause, Class};

    /// Every log of every capture in sample-logs/ (each read on its own, as one input).
    fn capture_logs() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let mut logs = Vec::new();
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.join("truth.json").is_file() {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "log") {
                    logs.push(f);
                }
            }
        }
        logs.sort();
        assert!(logs.len() >= 20, "{} capture logs", logs.len());
        logs
    }

    /// The counters a Prometheus scrape reads, which must never go down between snapshots.
    fn counters(a: &Analysis) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        m.insert("total".into(), a.traffic.total);
        m.insert("orphans".into(), a.traffic.orphans_total);
        m.insert("lines".into(), a.input.lines);
        m.insert("unrecognized".into(), a.input.unrecognized);
        m.insert("timeouts".into(), a.workers.timeouts);
        for (c, s) in &a.traffic.by_class {
            let fields = [
                ("total", s.total),
                ("ok", s.ok),
                ("4xx", s.client_error),
                ("5xx", s.server_error),
                ("host_rejected", s.host_rejected),
                ("orphaned", s.orphaned),
                ("evicted", s.evicted),
                ("unknown", s.unknown_status),
            ];
            for (f, n) in fields {
                m.insert(format!("{c:?}.{f}"), n);
            }
        }
        for (c, n) in &a.traffic.orphan_causes {
            m.insert(format!("cause.{c:?}"), *n);
        }
        for (code, n) in &a.traffic.status {
            m.insert(format!("status.{code}"), *n);
        }
        for (h, r) in &a.hosts.rejected {
            m.insert(format!("rejected.{h}"), r.count);
        }
        m
    }

    fn at_most(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, what: &str) {
        for (k, n) in before {
            let m = after.get(k).copied().unwrap_or(0);
            assert!(*n <= m, "{what}: {k} went from {n} to {m}");
        }
    }

    /// A snapshot every 40 lines of each real capture: no counter ever goes down, and after
    /// the last line the snapshot differs from the ended input's analysis only by what ending
    /// settles (requests open or waiting for their access line, access lines waiting for theirs).
    #[test]
    fn snapshots_only_grow_and_end_at_the_final_counts() {
        for log in capture_logs() {
            let what = log.display().to_string();
            let text = std::fs::read(&log).unwrap();
            let mut p = Pipeline::new(Arc::new(Settings::default()), Window::default());
            let file = p.add_file(&what);
            let mut last = BTreeMap::new();
            let text = text.strip_suffix(b"\n").unwrap_or(&text);
            for (k, line) in text.split(|b| *b == b'\n').enumerate() {
                p.line(file, k as u64 + 1, line);
                if k % 40 == 0 {
                    let now = counters(&p.snapshot());
                    at_most(&last, &now, &what);
                    last = now;
                }
            }
            let snap = p.snapshot();
            at_most(&last, &counters(&snap), &what);
            let unsettled: u64 = p.back.pods.items.iter().map(|(_, c)| c.unsettled()).sum();
            let open: u64 = snap.traffic.by_class.values().map(|s| s.in_flight).sum();
            let (end, _) = p.finish();
            at_most(&counters(&snap), &counters(&end), &what);
            assert_eq!(end.traffic.total, snap.traffic.total + unsettled, "{what}");
            assert!(open <= unsettled, "{what}");
            assert_eq!(end.input.lines, snap.input.lines, "{what}");
            assert_eq!(end.workers.timeouts, snap.workers.timeouts, "{what}");
            assert_eq!(end.workers.booted, snap.workers.booted, "{what}");
            let rejected = |a: &Analysis| -> Vec<(String, u64)> {
                let hosts = a.hosts.rejected.iter();
                hosts.map(|(h, r)| (h.clone(), r.count)).collect()
            };
            assert_eq!(rejected(&end), rejected(&snap), "{what}");
            // Orphans other than those only the end makes (open at the end; never answered,
            // which waits for the stream's other lines) are all counted already, unless their
            // record still waited for its access line.
            let settled_by_end: u64 = [Cause::OpenAtEnd, Cause::NeverAnswered]
                .iter()
                .map(|c| end.traffic.orphan_causes.get(c).copied().unwrap_or(0))
                .sum();
            let orphans_gained = end.traffic.orphans_total - snap.traffic.orphans_total;
            assert!(orphans_gained <= unsettled, "{what}");
            assert!(settled_by_end + unsettled >= orphans_gained, "{what}");
            let external = |a: &Analysis| a.traffic.by_class.get(&Class::External).cloned();
            let (e, s) = (external(&end), external(&snap));
            if let (Some(e), Some(s)) = (e, s) {
                assert!(e.total - s.total <= unsettled, "{what}");
            }
        }
    }
}
