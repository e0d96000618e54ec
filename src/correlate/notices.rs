//! Live notices for `--follow` and `--format ndjson`: requests as they end and alerts as they
//! happen. Gathered only when asked for ([`Notices::enable`]); otherwise each call is a check
//! of one `Option`.

use std::borrow::Cow;
use std::sync::Arc;

use super::records::Req;
use super::{Cause, Class, Evidence};
use crate::parse::Ts;
use crate::time::Precision;

/// Something to tell at once while following a live stream (`--follow`, `--format ndjson`).
#[derive(Debug, Clone)]
pub enum Notice {
    /// A request reached its end (answered or orphaned), or the input ended with it open.
    Request {
        /// When it ended (or began, if it did not end): reports write it as RFC 3339.
        time: Option<Ts>,
        pod: Option<Arc<str>>,
        method: Cow<'static, str>,
        /// The path and Host as logged: made text (invalid UTF-8 replaced) only when written.
        logged: PathAndHost,
        pid: Option<u32>,
        class: Class,
        /// `answered`, `orphaned` or `in_flight`.
        outcome: &'static str,
        cause: Option<Cause>,
        status: Option<u16>,
        latency_ms: Option<f64>,
        /// How precise `latency_ms` is, when there is one: `whole seconds` (gunicorn's own
        /// timestamps) or `sub-second` (an envelope's).
        resolution: Option<&'static str>,
        file: Arc<str>,
        line: u64,
    },
    /// Something went wrong just now.
    Alert {
        time: Option<Ts>,
        pod: Option<Arc<str>>,
        alert: AlertKind,
        message: String,
        file: Arc<str>,
        line: u64,
        text: String,
    },
}

/// A request's path and Host as logged, in one allocation rather than one each.
#[derive(Debug, Clone)]
pub struct PathAndHost {
    /// The path, then the Host if there is one.
    bytes: Box<[u8]>,
    /// The path's length; `None`: no Host.
    path_len: Option<usize>,
}

impl PathAndHost {
    pub fn new(path: &[u8], host: Option<&[u8]>) -> PathAndHost {
        match host {
            None => PathAndHost {
                bytes: path.into(),
                path_len: None,
            },
            Some(host) => {
                let mut bytes = Vec::with_capacity(path.len() + host.len());
                bytes.extend_from_slice(path);
                bytes.extend_from_slice(host);
                PathAndHost {
                    bytes: bytes.into(),
                    path_len: Some(path.len()),
                }
            }
        }
    }

    pub fn path(&self) -> &[u8] {
        &self.bytes[..self.path_len.unwrap_or(self.bytes.len())]
    }

    pub fn host(&self) -> Option<&[u8]> {
        self.path_len.map(|n| &self.bytes[n..])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A request has been open longer than the timeout.
    RequestOpenTooLong,
    WorkerTimeout,
    WorkerKilled,
    BootFailure,
    /// The first DisallowedHost for a host not seen before.
    NewDisallowedHost,
}

/// One stream's notices, while following.
#[derive(Default)]
pub(super) struct Notices {
    /// Notices to hand out (None: not asked for).
    list: Option<Vec<Notice>>,
    /// The pod (or compose service) the stream is, named in each notice.
    pod: Option<Arc<str>>,
}

impl Notices {
    /// Asks for notices from now on; `pod` names the stream.
    pub(super) fn enable(&mut self, pod: Option<Arc<str>>) {
        self.list = Some(Vec::new());
        self.pod = pod;
    }

    /// Whether notices were asked for.
    pub(super) fn wanted(&self) -> bool {
        self.list.is_some()
    }

    /// Hands each notice gathered since the last call to `emit`, in order. The list keeps its
    /// room: a list made for each line's notices was an allocation for most requests.
    pub(super) fn drain(&mut self, emit: &mut dyn FnMut(Notice)) {
        match &mut self.list {
            Some(n) if !n.is_empty() => n.drain(..).for_each(emit),
            _ => {}
        }
    }

    pub(super) fn alert(
        &mut self,
        alert: AlertKind,
        message: String,
        time: Option<Ts>,
        e: &Evidence,
    ) {
        if let Some(n) = &mut self.list {
            n.push(Notice::Alert {
                time,
                pod: self.pod.clone(),
                alert,
                message,
                file: e.file.clone(),
                line: e.line,
                text: e.text.clone(),
            });
        }
    }

    /// Request `r` reached its end (`outcome`: `answered`, `orphaned` or `in_flight`).
    pub(super) fn request(
        &mut self,
        r: &Req,
        class: Class,
        outcome: &'static str,
        cause: Option<Cause>,
    ) {
        let Some(n) = &mut self.list else { return };
        let status = r.app_status.or(r.access.map(|a| a.0));
        let latency_ms = match (r.start, r.end) {
            (Some(s), Some(e)) if outcome == "answered" => Some((e.0 - s.0) as f64 / 1000.0),
            _ => None,
        };
        let resolution = latency_ms.map(|_| match r.start_precision.min(r.end_precision) {
            Precision::SubSecond => "sub-second",
            Precision::Seconds => "whole seconds",
        });
        n.push(Notice::Request {
            time: r.end.or(r.start),
            pod: self.pod.clone(),
            method: r.method.to_cow(),
            logged: PathAndHost::new(r.path(), r.host()),
            pid: r.pid,
            class,
            outcome,
            cause,
            status,
            latency_ms,
            resolution,
            file: r.start_line.file.clone(),
            line: r.start_line.line,
        });
    }
}
