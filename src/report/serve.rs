//! `--metrics-listen`: the live metrics served over HTTP while `--follow` reads, for a
//! Prometheus to scrape. The reading thread renders a fresh exposition at most once a second
//! ([`Exporter::publish`]) and swaps it in under a lock held only for the swap; the server's
//! thread answers every scrape from the exposition in place, so a scrape never waits for
//! reading and reading never waits for a scraper.
//!
//! The HTTP is hyper's (HTTP/1 only), on a single-threaded tokio runtime of its own thread:
//! reqtrail controls each connection, so that a slow or hostile scraper is bounded. At most
//! [`MAX_CONNECTIONS`] at once (more wait, unaccepted, in the kernel's queue); a request's
//! head must come within [`HEAD_TIMEOUT`]; a connection is closed after [`CONNECTION_LIFETIME`]
//! whatever it does (a scraper that reads its answer slowly included). GET `/metrics` gets the
//! Prometheus text format, or OpenMetrics when the Accept header asks for it; GET `/healthz`
//! gets `ok`; anything else 404.

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{oneshot, Semaphore};

use super::metrics::{self, Flavor, Named};
use super::Report;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// How long a connection may take to send a request's head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection is kept, whatever it does (Prometheus opens another).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);

const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The last exposition published, in both flavors (cloning one shares it).
#[derive(Default, Clone)]
struct Rendered {
    prometheus: Bytes,
    openmetrics: Bytes,
}

type Shared = Arc<Mutex<Rendered>>;

/// The metrics server: its thread answers scrapes until it is dropped.
pub struct Exporter {
    current: Shared,
    /// The hosts, routes and pods named so far, kept so that counters only grow.
    names: Mutex<Named>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Listens on `addr` (port 0: a free one, see [`Exporter::addr`]) and answers scrapes on a
    /// thread of its own; until the first [`Exporter::publish`], `/metrics` is empty.
    /// `announce`: say on stderr where it listens.
    pub fn start(addr: SocketAddr, announce: bool) -> io::Result<Exporter> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        if announce {
            eprintln!("reqtrail: serving metrics on http://{addr}/metrics");
        }
        if !addr.ip().is_loopback() {
            eprintln!(
                "reqtrail: serving metrics on {addr}, beyond this machine: anyone who reaches \
                 it can read the hosts and routes the logs name"
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let current = Shared::default();
        let shared = current.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => drop(tokio::spawn(accept(l, shared))),
                        Err(e) => eprintln!("reqtrail: cannot serve metrics on {addr}: {e}"),
                    }
                    let _ = stopped.await;
                });
                // Dropping the runtime ends every connection still open.
            })?;
        Ok(Exporter {
            current,
            names: Mutex::default(),
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Renders `report` and makes it what scrapes get from now on, naming the hosts, routes and
    /// pods it named before ([`Named`]).
    pub fn publish(&self, report: &Report) {
        let (mut prometheus, mut openmetrics) = (Vec::new(), Vec::new());
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a Vec fails only if memory does.
        let _ = metrics::write_named(report, Flavor::Prometheus, &mut prometheus, &mut names);
        let _ = metrics::write_named(report, Flavor::OpenMetrics, &mut openmetrics, &mut names);
        let r = Rendered {
            prometheus: prometheus.into(),
            openmetrics: openmetrics.into(),
        };
        if let Ok(mut current) = self.current.lock() {
            *current = r;
        }
    }

    /// Once the input has ended: goes on serving the final metrics (published by the caller)
    /// until `stop` is set (Ctrl-C), so that the last scrape sees every line.
    pub fn serve_until(&self, stop: &AtomicBool, announce: bool) {
        if announce && !stop.load(Ordering::SeqCst) {
            eprintln!("reqtrail: the input ended; serving its final metrics until Ctrl-C");
        }
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts connections, [`MAX_CONNECTIONS`] at most at once, each served on a task of its own.
async fn accept(listener: tokio::net::TcpListener, current: Shared) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, or the like: try again a little later.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let current = current.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let now = current.lock().map(|r| r.clone()).unwrap_or_default();
                async move { Ok::<_, Infallible>(answer(&request, &now)) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    }
}

/// Which flavor an Accept header asks for: OpenMetrics when it names it, else the text format.
pub fn flavor_for(accept: Option<&str>) -> Flavor {
    match accept {
        Some(a) if a.contains("application/openmetrics-text") => Flavor::OpenMetrics,
        _ => Flavor::Prometheus,
    }
}

fn answer(request: &Request<Incoming>, now: &Rendered) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if request.method() != Method::GET {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    match request.uri().path() {
        "/metrics" => {
            let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
            let (body, kind) = match flavor_for(accept) {
                Flavor::Prometheus => (now.prometheus.clone(), PROMETHEUS_TYPE),
                Flavor::OpenMetrics => (now.openmetrics.clone(), OPENMETRICS_TYPE),
            };
            let mut r = Response::new(Full::new(body));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_picks_the_flavor() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(flavor_for(Some(prom)), Flavor::OpenMetrics);
        assert_eq!(flavor_for(Some("text/plain")), Flavor::Prometheus);
        assert_eq!(flavor_for(None), Flavor::Prometheus);
    }
}
