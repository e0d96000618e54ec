//! What the edge wrote: the proxy, load balancer or platform router between users and gunicorn.
//!
//! An incident is what users saw, and users talk to an edge (nginx, ingress-nginx, the Heroku
//! router, Caddy, Traefik, HAProxy, an AWS ALB, a Google Cloud load balancer), not to gunicorn.
//! Each edge's lines are read here into one [`EdgeRecord`]: the request as the edge saw it, the
//! status the user got, what the upstream (the app) did as far as the edge knows, and the edge's
//! own reason when it failed. The records are kept apart from the app's events: an edge access
//! line is never an app request, even where its shape is the same as gunicorn's (nginx's
//! `combined` and gunicorn's default access format are).
//!
//! One file per edge, each parser named after the format it recognises and unit-tested beside it
//! with real-looking lines and the input it leaves. Formats are quoted from each edge's own
//! documentation in the file that reads it.

pub mod aws_alb;
pub mod caddy;
pub mod gcp_lb;
pub mod haproxy;
pub mod heroku;
pub mod ingress_nginx;
mod json;
pub mod nginx;
pub mod traefik;

use std::borrow::Cow;

use super::atoms::{PResult, Ts};

/// Which edge wrote a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edge {
    Nginx,
    IngressNginx,
    HerokuRouter,
    Caddy,
    Traefik,
    HaProxy,
    AwsAlb,
    GcpLoadBalancer,
}

impl Edge {
    pub const ALL: [Edge; 8] = [
        Edge::Nginx,
        Edge::IngressNginx,
        Edge::HerokuRouter,
        Edge::Caddy,
        Edge::Traefik,
        Edge::HaProxy,
        Edge::AwsAlb,
        Edge::GcpLoadBalancer,
    ];
}

/// What kind of line the record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// One line per request (an access log entry, a router line, a load balancer entry).
    Access,
    /// An error-log line about the upstream (nginx's `upstream timed out ...`): it tells why a
    /// request failed, and the access line of the same request tells what the user got.
    UpstreamError,
}

/// Why the edge failed a request, as far as its line tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The upstream accepted the request and did not answer in the edge's time
    /// (nginx `upstream timed out`, Heroku H12, HAProxy `sH`, GCP `backend_timeout`, ALB 504).
    UpstreamTimeout,
    /// The upstream closed the connection without (a whole) answer (nginx `upstream prematurely
    /// closed connection`, Heroku H13, GCP `backend_connection_closed_before_data_sent_to_client`).
    UpstreamClosed,
    /// The connection was reset by the upstream (nginx `recv() failed (104: ...)`).
    UpstreamReset,
    /// Nothing listened (nginx `connect() failed (111: Connection refused)`, HAProxy `SC`).
    ConnectionRefused,
    /// No upstream to send it to: none ready or none running (nginx `no live upstreams`,
    /// ingress-nginx 503 without an upstream address, Heroku H14 / H10).
    NoUpstream,
    /// The app did not boot in time (Heroku H20).
    BootTimeout,
    /// The client went away first (nginx 499, HAProxy `cD` / `CD`, Heroku H27).
    ClientClosed,
    /// Some other failure the edge names (kept in [`EdgeRecord::detail`]).
    Other,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::UpstreamTimeout,
        Reason::UpstreamClosed,
        Reason::UpstreamReset,
        Reason::ConnectionRefused,
        Reason::NoUpstream,
        Reason::BootTimeout,
        Reason::ClientClosed,
        Reason::Other,
    ];
}

/// One request (or one upstream error) as the edge saw it. Fields a format does not carry are
/// `None`; text fields borrow the line where they can.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRecord<'a> {
    pub edge: Edge,
    pub kind: RecordKind,
    /// When the edge logged it (for most access logs, when the request ended; see `started`).
    pub time: Option<Ts>,
    /// `time` is when the request started (HAProxy's accept date, Traefik's CLF timestamp):
    /// [`EdgeRecord::ended`] adds the request's time to it.
    pub started: bool,
    pub method: Option<Cow<'a, [u8]>>,
    /// The request URI as sent, query string included.
    pub path: Option<Cow<'a, [u8]>>,
    pub host: Option<Cow<'a, [u8]>>,
    /// The user's address as the edge saw it.
    pub client: Option<Cow<'a, [u8]>>,
    /// The status the user got.
    pub status: Option<u16>,
    /// The status the upstream answered with (the last try's); `None` when it never answered.
    pub upstream_status: Option<u16>,
    /// Where the edge sent the request (every try, as the edge wrote them).
    pub upstream_addr: Option<Cow<'a, [u8]>>,
    /// How many upstreams were tried (ingress-nginx writes one per try, comma-separated).
    pub upstream_tries: u8,
    /// Seconds the upstream took to answer (the last try's).
    pub upstream_seconds: Option<f64>,
    /// Seconds the whole request took at the edge.
    pub request_seconds: Option<f64>,
    /// The request id, where the format carries one (`$req_id`, Heroku's `request_id`).
    pub request_id: Option<Cow<'a, [u8]>>,
    /// Why the edge failed the request, when its line says.
    pub reason: Option<Reason>,
    /// The edge's own words for it: a Heroku code and description, HAProxy's termination
    /// state, a load balancer's status detail, nginx's error text.
    pub detail: Option<Cow<'a, [u8]>>,
    /// The edge's name for where it routed the request, as it wrote it: ingress-nginx's
    /// `$proxy_upstream_name` (`<namespace>-<service>-<port>`). Names the app (service) the
    /// upstream address belongs to, which an address alone (a pod IP) does not.
    pub upstream_name: Option<Cow<'a, [u8]>>,
}

impl<'a> EdgeRecord<'a> {
    /// An empty record of `edge` and `kind`, for a parser to fill.
    pub fn new(edge: Edge, kind: RecordKind) -> EdgeRecord<'a> {
        EdgeRecord {
            edge,
            kind,
            time: None,
            started: false,
            method: None,
            path: None,
            host: None,
            client: None,
            status: None,
            upstream_status: None,
            upstream_addr: None,
            upstream_tries: 0,
            upstream_seconds: None,
            request_seconds: None,
            request_id: None,
            reason: None,
            detail: None,
            upstream_name: None,
        }
    }
}

impl EdgeRecord<'_> {
    /// When the request ended at the edge, as far as the line tells: its time, or for a format
    /// that logs the start, the start plus the request's time (the start alone when that is
    /// not logged).
    pub fn ended(&self) -> Option<Ts> {
        let t = self.time?;
        match (self.started, self.request_seconds) {
            (true, Some(s)) => Some(Ts(t.0 + (s * 1e6) as i64)),
            _ => Some(t),
        }
    }
}

/// An `Eq` marker: the times are never NaN (every parser reads them through [`seconds`] or
/// from whole numbers), so equal records are equal.
impl Eq for EdgeRecord<'_> {}

/// A line only an edge writes, read by its edge's parser; `None` for any other line. Lines of
/// the `combined` shape are not tried here: that shape is gunicorn's too (see
/// [`extended_access`] and the source's role).
pub fn edge_line(line: &[u8]) -> Option<EdgeRecord<'_>> {
    let own = match *line.first()? {
        b'{' => return edge_json(line),
        b'0'..=b'9' => {
            whole(nginx::nginx_upstream_error(line)).or_else(|| whole(heroku::heroku_router(line)))
        }
        b'a' | b's' => whole(heroku::heroku_router(line)),
        b'h' => whole(heroku::heroku_router(line)).or_else(|| whole(aws_alb::aws_alb(line))),
        b'g' | b'w' => whole(aws_alb::aws_alb(line)),
        _ => None,
    };
    // HAProxy's line may open with any word: the host of a syslog prefix the envelopes leave
    // (after a stamp in UTC, `2026-12-04T07:22:22.478Z web01 haproxy[812]: 10.0.0.7:40030 …`,
    // only the stamp is one), which HAProxy's parser skips.
    own.or_else(|| whole(haproxy::haproxy_http(line)))
}

/// A JSON line an edge writes (Caddy, Traefik, a Google Cloud load balancer entry), told by
/// a key only that edge writes before any JSON is read.
pub fn edge_json(line: &[u8]) -> Option<EdgeRecord<'_>> {
    let has = |key: &[u8]| memchr::memmem::find(line, key).is_some();
    if has(b"\"DownstreamStatus\"") {
        traefik::traefik_json(line)
    } else if has(b"\"httpRequest\"") {
        gcp_lb::gcp_lb_json(line)
    } else if has(b"\"logger\"") {
        caddy::caddy_json(line)
    } else {
        None
    }
}

/// An access line of the `combined` shape with an edge's own fields after it (ingress-nginx's
/// `upstreaminfo`, Traefik's CLF), which gunicorn never writes.
pub fn extended_access(line: &[u8]) -> Option<EdgeRecord<'_>> {
    whole(ingress_nginx::ingress_nginx_upstreaminfo(line))
        .or_else(|| whole(traefik::traefik_clf(line)))
}

/// A parse that matched; what it leaves is the end of the line, which the edge's parser chose
/// not to read.
fn whole<'a>(r: PResult<'a, EdgeRecord<'a>>) -> Option<EdgeRecord<'a>> {
    r.ok().map(|(_, rec)| rec)
}

/// The host of a client address the edge writes with its port: `10.0.0.6:50211`,
/// `[::1]:50211`, or IPv6 unbracketed as HAProxy and the ALB write it (`::1:50211`). Every
/// format that calls this always writes a port; an address with no colon is kept whole.
pub(super) fn without_port(addr: &[u8]) -> &[u8] {
    if let Some(inner) = addr.strip_prefix(b"[") {
        return inner.split(|c| *c == b']').next().unwrap_or(inner);
    }
    match memchr::memrchr(b':', addr) {
        Some(colon) => &addr[..colon],
        None => addr,
    }
}

/// A time in seconds as edges write it (`0.013`, `30.001`); `-`, `-1` and anything but digits
/// and a point are no time.
pub(super) fn seconds(s: &[u8]) -> Option<f64> {
    if s.is_empty() || !s.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// What every edge parser's tests use to state the fields they expect.
#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A text field as the record holds it (`Some(Cow::Borrowed(..))`).
    pub(in crate::parse::edge) fn b(s: &str) -> Option<Cow<'_, [u8]>> {
        Some(Cow::Borrowed(s.as_bytes()))
    }

    /// A record's text field as text, to compare with a literal.
    pub(in crate::parse::edge) fn text<'a>(v: &'a Option<Cow<'_, [u8]>>) -> Option<&'a str> {
        v.as_deref().map(|b| std::str::from_utf8(b).unwrap())
    }

    /// 2026-11-28 at `h:m:s` UTC, the day the test lines are from.
    pub(in crate::parse::edge) fn at(h: u32, m: u32, s: u32) -> Option<Ts> {
        Ts::from_civil((2026, 11, 28), (h, m, s), 0, 0)
    }

    /// HAProxy's line behind the host and tag of a syslog prefix (what the envelopes leave of
    /// one after a stamp in UTC), whatever letter the host's name opens with, those other
    /// edges' formats open with too.
    #[test]
    fn haproxy_behind_any_host_name() {
        let body = br#"haproxy[812]: 10.0.0.7:40030 [28/Nov/2026:03:51:02.500] web~ app/g1 0/0/1/-1/30001 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /slow/ HTTP/1.1""#;
        for host in [
            "lb1",
            "app",
            "srv-2",
            "haproxy-1",
            "gw",
            "web01",
            "10.0.0.2",
            "Edge",
        ] {
            let line = [host.as_bytes(), b" ", body].concat();
            let r = edge_line(&line).unwrap_or_else(|| panic!("{host}"));
            assert_eq!((r.edge, r.status), (Edge::HaProxy, Some(504)), "{host}");
            assert_eq!(text(&r.path), Some("/slow/"), "{host}");
        }
        // The edges those letters are tried for first still read their own lines.
        let heroku = br#"at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=shop.example.com request_id=1 fwd="203.0.113.7" dyno=web.1 connect=0ms service=30000ms status=503 bytes=0 protocol=https"#;
        assert_eq!(edge_line(heroku).map(|r| r.edge), Some(Edge::HerokuRouter));
    }

    #[test]
    fn ports_come_off_client_addresses() {
        assert_eq!(without_port(b"10.0.0.6:50211"), b"10.0.0.6");
        assert_eq!(without_port(b"[::1]:50211"), b"::1");
        assert_eq!(without_port(b"10.0.0.6"), b"10.0.0.6");
        assert_eq!(without_port(b"2001:db8::7:33317"), b"2001:db8::7");
    }

    #[test]
    fn seconds_as_edges_write_them() {
        assert_eq!(seconds(b"0.013"), Some(0.013));
        assert_eq!(seconds(b"30"), Some(30.0));
        for none in [&b"-"[..], b"-1", b"", b"inf", b"1e3"] {
            assert_eq!(seconds(none), None);
        }
    }
}
