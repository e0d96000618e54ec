//! Google Cloud HTTP(S) load balancer request logs, as `gcloud logging read --format=json`
//! prints them.
//!
//! Each entry is a Cloud Logging `LogEntry` whose `httpRequest` carries the request
//! (`requestMethod`, `requestUrl`, `status`, `latency` as a duration string `"0.512s"`,
//! `remoteIp`, `serverIp` the backend's address, `userAgent`, sizes as strings) and whose
//! `jsonPayload` (`@type` …`LoadBalancerLogEntry`) says who answered in `statusDetails`
//! ("Logging and monitoring", "HTTP failure messages" in the load balancer's documentation):
//! `response_sent_by_backend` the backend answered, `backend_timeout` it did not answer in the
//! backend service's timeout, `backend_connection_closed_before_data_sent_to_client` it closed
//! first, `failed_to_connect_to_backend`, `failed_to_pick_backend` (no healthy backend),
//! `client_disconnected_before_any_response` … Beside them: `timestamp` (RFC 3339), `trace`
//! (`projects/P/traces/ID`, the id the app sees in `X-Cloud-Trace-Context`), and
//! `resource.type` `http_load_balancer`.
//!
//! gcloud prints a JSON ARRAY of entries spread over many lines by default. This reads one
//! entry object on one line, as `gcloud logging read … --format=json | jq -c '.[]'` gives
//! them: the array form must be flattened first (a later step may read it whole).

use std::borrow::Cow;

use serde::Deserialize;

use super::aws_alb::host_and_path;
use super::json::{present, Number};
use super::{Edge, EdgeRecord, Reason, RecordKind};
use crate::parse::atoms::rfc3339;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(borrow)]
    http_request: HttpRequest<'a>,
    #[serde(borrow, default)]
    json_payload: Option<Payload<'a>>,
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    trace: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpRequest<'a> {
    #[serde(borrow, default)]
    request_method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Number<'a>>,
    #[serde(borrow, default)]
    latency: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    remote_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    server_ip: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow, default)]
    status_details: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

/// A protobuf duration as JSON prints it: `"30.001234s"` → seconds.
fn duration(text: &str) -> Option<f64> {
    text.strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
}

/// What `statusDetails` says about the backend. `None`: the backend (or the cache, or the
/// load balancer's own redirect) answered.
fn reason_of_details(details: &str, status: Option<u16>) -> Option<Reason> {
    Some(match details {
        "backend_timeout" => Reason::UpstreamTimeout,
        d if d.starts_with("backend_connection_closed") => Reason::UpstreamClosed,
        "failed_to_connect_to_backend" => Reason::ConnectionRefused,
        "failed_to_pick_backend" => Reason::NoUpstream,
        d if d.starts_with("client_disconnected") || d == "client_timed_out" => {
            Reason::ClientClosed
        }
        d if d.starts_with("response_sent_by_backend")
            || d.starts_with("response_from_cache")
            || d.starts_with("redirected_by_load_balancer") =>
        {
            return None
        }
        _ if status.is_some_and(|s| s >= 500) => Reason::Other,
        _ => return None,
    })
}

/// `projects/P/traces/ID` → `ID`.
fn trace_id(trace: Cow<'_, str>) -> Cow<'_, [u8]> {
    match trace {
        Cow::Borrowed(t) => Cow::Borrowed(t.rsplit('/').next().unwrap_or(t).as_bytes()),
        Cow::Owned(t) => Cow::Owned(t.rsplit('/').next().unwrap_or(&t).as_bytes().to_vec()),
    }
}

/// One load balancer log entry, the whole JSON object on one line; `None` for anything else
/// (an entry needs `httpRequest` and either `jsonPayload.statusDetails` or the resource type
/// `http_load_balancer`: Cloud Run's and App Engine's request logs carry `httpRequest` too).
pub fn gcp_lb_json(line: &[u8]) -> Option<EdgeRecord<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let entry: Entry<'_> = crate::input::json_line(line).ok()?;
    let details = entry.json_payload.and_then(|p| p.status_details);
    let is_lb = entry
        .resource
        .is_some_and(|r| r.kind == "http_load_balancer");
    if details.is_none() && !is_lb {
        return None;
    }
    let http = entry.http_request;
    let status = http.status.and_then(Number::status);
    let mut record = EdgeRecord::new(Edge::GcpLoadBalancer, RecordKind::Access);
    record.time = entry
        .timestamp
        .and_then(|t| rfc3339(t.as_bytes()).ok().map(|(_, t)| t));
    record.method = present(http.request_method);
    match http.request_url {
        Some(Cow::Borrowed(url)) => {
            if let Some((host, path)) = host_and_path(url.as_bytes()) {
                record.host = Some(Cow::Borrowed(host));
                record.path = Some(Cow::Borrowed(path));
            }
        }
        Some(Cow::Owned(url)) => {
            if let Some((host, path)) = host_and_path(url.as_bytes()) {
                record.host = Some(Cow::Owned(host.to_vec()));
                record.path = Some(Cow::Owned(path.to_vec()));
            }
        }
        None => {}
    }
    record.client = present(http.remote_ip);
    record.status = status;
    record.upstream_addr = present(http.server_ip);
    record.upstream_tries = u8::from(record.upstream_addr.is_some());
    record.request_seconds = http.latency.as_deref().and_then(duration);
    record.request_id = entry.trace.map(trace_id).filter(|t| !t.is_empty());
    if let Some(d) = &details {
        record.reason = reason_of_details(d, status);
        if d.starts_with("response_sent_by_backend") {
            record.upstream_status = status;
        }
    }
    record.detail = present(details);
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::edge::tests::text;

    const TIMEOUT: &[u8] = br#"{"httpRequest":{"latency":"30.001234s","remoteIp":"203.0.113.7","requestMethod":"GET","requestSize":"79","requestUrl":"https://shop.example.com/slow/?n=1","responseSize":"213","serverIp":"10.128.0.5","status":504,"userAgent":"curl/8.5.0"},"insertId":"1x2y3z4w5v6u","jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","backendTargetProjectNumber":"projects/123456789012","remoteIp":"203.0.113.7","statusDetails":"backend_timeout"},"logName":"projects/shop-prod/logs/requests","receiveTimestamp":"2026-11-28T03:48:41.532108Z","resource":{"labels":{"backend_service_name":"shop-web","forwarding_rule_name":"shop-https","project_id":"shop-prod","target_proxy_name":"shop-proxy","url_map_name":"shop-map","zone":"global"},"type":"http_load_balancer"},"severity":"INFO","spanId":"a1b2c3d4e5f60718","timestamp":"2026-11-28T03:48:11.123456Z","trace":"projects/shop-prod/traces/0a1b2c3d4e5f60718293a4b5c6d7e8f9"}"#;

    #[test]
    fn a_backend_timeout() {
        let r = gcp_lb_json(TIMEOUT).unwrap();
        assert_eq!(
            (r.edge, r.kind),
            (Edge::GcpLoadBalancer, RecordKind::Access)
        );
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-11-28T03:48:11.123Z");
        assert_eq!(text(&r.method), Some("GET"));
        assert_eq!(text(&r.host), Some("shop.example.com"));
        assert_eq!(text(&r.path), Some("/slow/?n=1"));
        assert_eq!(text(&r.client), Some("203.0.113.7"));
        assert_eq!((r.status, r.upstream_status), (Some(504), None));
        assert_eq!(text(&r.upstream_addr), Some("10.128.0.5"));
        assert_eq!(r.upstream_tries, 1);
        assert_eq!(
            (r.upstream_seconds, r.request_seconds),
            (None, Some(30.001234))
        );
        assert_eq!(
            text(&r.request_id),
            Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")
        );
        assert_eq!(r.reason, Some(Reason::UpstreamTimeout));
        assert_eq!(text(&r.detail), Some("backend_timeout"));
    }

    #[test]
    fn answered_closed_and_no_backend() {
        let answered = br#"{"httpRequest":{"latency":"0.081s","remoteIp":"203.0.113.8","requestMethod":"POST","requestUrl":"http://shop.example.com:80/pay/","serverIp":"10.128.0.6","status":500},"jsonPayload":{"statusDetails":"response_sent_by_backend"},"resource":{"type":"http_load_balancer"},"timestamp":"2026-11-28T03:49:00Z"}"#;
        let r = gcp_lb_json(answered).unwrap();
        assert_eq!(
            (r.status, r.upstream_status, r.reason),
            (Some(500), Some(500), None)
        );
        assert_eq!(
            (text(&r.host), text(&r.path)),
            (Some("shop.example.com"), Some("/pay/"))
        );
        assert_eq!(r.request_id, None);
        let closed = br#"{"httpRequest":{"latency":"1.520s","remoteIp":"203.0.113.8","requestMethod":"GET","requestUrl":"https://shop.example.com/boom/","serverIp":"10.128.0.6","status":502},"jsonPayload":{"statusDetails":"backend_connection_closed_before_data_sent_to_client"},"timestamp":"2026-11-28T03:49:05Z"}"#;
        let r = gcp_lb_json(closed).unwrap();
        assert_eq!(
            (r.upstream_status, r.reason),
            (None, Some(Reason::UpstreamClosed))
        );
        let none = br#"{"httpRequest":{"latency":"0.002s","remoteIp":"203.0.113.8","requestMethod":"GET","requestUrl":"https://shop.example.com","status":503},"jsonPayload":{"statusDetails":"failed_to_pick_backend"},"resource":{"type":"http_load_balancer"},"timestamp":"2026-11-28T03:49:10Z"}"#;
        let r = gcp_lb_json(none).unwrap();
        assert_eq!((r.upstream_addr.clone(), r.upstream_tries), (None, 0));
        assert_eq!(
            (text(&r.path), r.reason),
            (Some("/"), Some(Reason::NoUpstream))
        );
        let refused = br#"{"httpRequest":{"requestMethod":"GET","requestUrl":"https://shop.example.com/","status":502},"jsonPayload":{"statusDetails":"failed_to_connect_to_backend"}}"#;
        assert_eq!(
            gcp_lb_json(refused).unwrap().reason,
            Some(Reason::ConnectionRefused)
        );
    }

    #[test]
    fn other_entries_are_not_load_balancer_requests() {
        // Cloud Run's request log has httpRequest but is not the load balancer's.
        assert!(gcp_lb_json(br#"{"httpRequest":{"requestMethod":"GET","requestUrl":"https://svc-abc-uc.a.run.app/","status":200,"latency":"0.01s"},"resource":{"type":"cloud_run_revision"},"timestamp":"2026-11-28T03:49:10Z"}"#).is_none());
        // The array gcloud prints, one of its lines, a cut entry, an app's JSON line.
        assert!(gcp_lb_json(b"[").is_none());
        assert!(gcp_lb_json(br#"  "httpRequest": {"#).is_none());
        assert!(gcp_lb_json(&TIMEOUT[..TIMEOUT.len() - 10]).is_none());
        assert!(gcp_lb_json(br#"{"message":"GET /ok","status":200,"method":"GET"}"#).is_none());
        // Caddy's and Traefik's access entries.
        assert!(gcp_lb_json(br#"{"level":"info","ts":1795837621.5,"logger":"http.log.access","msg":"handled request","request":{"method":"GET","uri":"/"},"status":200}"#).is_none());
        assert!(gcp_lb_json(
            br#"{"DownstreamStatus":502,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/"}"#
        )
        .is_none());
    }
}
