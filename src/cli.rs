//! Command-line flags (clap) and their validation into [`Options`]: what to read and how to
//! write it, around the [`Settings`] that say how to judge it.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use clap::{Parser, ValueEnum};

use crate::input::Source;
use crate::parse::Ts;
use crate::settings::{self, Cidr, Patterns, Settings, DEFAULT_HEALTH_PATHS};

const EXAMPLES: &str = "Examples:
  docker logs web 2>&1 | reqtrail --public-host app.example.com
  kubectl logs deploy/web --prefix --timestamps | reqtrail
  reqtrail /var/log/gunicorn/*.log
  reqtrail --format json app.log > status.json
  reqtrail --format markdown app.log >> incident.md
  reqtrail --format html -o report.html app.log
  reqtrail -q app.log && echo deploy ok
  reqtrail completions bash > /etc/bash_completion.d/reqtrail
  reqtrail manpage > ~/.local/share/man/man1/reqtrail.1

Exit status: 0 no check failed, 1 at least one check failed, 2 usage or input error.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The checklist table, findings and latency, for a terminal.
    Table,
    /// One JSON document (schema in the README), for dashboards.
    Json,
    /// An incident write-up section: summary, checklist table, findings, counts.
    Markdown,
    /// One self-contained HTML page with a timeline chart (use with -o).
    Html,
    /// One JSON object per line: each finished request and each alert as it happens, then
    /// the report (for Loki, Elasticsearch, Vector).
    Ndjson,
    /// The run's metrics in OpenMetrics text (for Prometheus; ends with `# EOF`).
    Openmetrics,
    /// The run's metrics in the Prometheus text format (for node_exporter's textfile
    /// collector).
    Prometheus,
}

/// Extra jobs that do not read logs.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these flags.
    Manpage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Follow every request through gunicorn + Django logs and say what is wrong with the deployment.
#[derive(Debug, Parser)]
#[command(name = "reqtrail", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Log files to read; none, or `-`, reads standard input (none at a terminal is a usage
    /// error: logs are piped in, not typed).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,

    /// The host name(s) users reach the app by (repeat or comma-separate; a URL counts as its
    /// host), to tell the real host apart from scanner noise in ALLOWED_HOSTS rejections.
    #[arg(long = "public-host", value_name = "HOST", value_delimiter = ',')]
    pub public_host: Vec<String>,

    /// An edge's log (nginx, ingress-nginx, a load balancer, a platform router): a FILE, read
    /// as well as the others, or a compose service, kubectl pod or container name whose lines
    /// are the edge's (repeat or comma-separate). Sources whose name says nginx, ingress,
    /// caddy, traefik, haproxy, proxy, router, lb... are read as edges without it.
    #[arg(long = "edge", value_name = "FILE|NAME", value_delimiter = ',')]
    pub edge: Vec<String>,

    /// Seconds after which a request still open at the end of the input counts as orphaned
    /// [default: gunicorn's timeout when the logs show it, else 30].
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub timeout: Option<f64>,

    /// Health-check paths (repeat or comma-separate) [default: /health, /healthz, /ready, …].
    #[arg(long = "health-path", value_name = "PATH", value_delimiter = ',')]
    pub health_path: Vec<String>,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Settings file (TOML; see the README) [default: ./reqtrail.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A regex for your own request-start lines, with named groups method, path and optionally
    /// host, client, pid, id (repeatable), e.g. 'REQ (?P<method>[A-Z]+) (?P<path>\S+)'.
    #[arg(long = "request-start", value_name = "REGEX")]
    pub request_start: Vec<String>,

    /// A regex for your own request-end lines: groups status and method+path or id (repeatable).
    #[arg(long = "request-end", value_name = "REGEX")]
    pub request_end: Vec<String>,

    /// User-agent prefixes of health probes, besides kube-probe/ and the load balancers' own
    /// (repeat or comma-separate).
    #[arg(long = "probe-agent", value_name = "PREFIX", value_delimiter = ',')]
    pub probe_agent: Vec<String>,

    /// Networks (CIDR) whose IPs in a Host header mean internal traffic such as probes, besides
    /// the private ranges (repeat or comma-separate).
    #[arg(long = "internal-net", value_name = "CIDR", value_delimiter = ',')]
    pub internal_net: Vec<String>,

    /// Only lines at or after TIME: RFC 3339 (`2026-11-28T03:00:00Z`), `YYYY-MM-DD[ HH:MM[:SS]]`
    /// (UTC), or an age like `90s`, `30m`, `2h`, `7d` before now.
    #[arg(long, value_name = "TIME", value_parser = parse_when)]
    pub since: Option<Ts>,

    /// Only lines at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_when)]
    pub until: Option<Ts>,

    /// Follow each input on its own instead of merging them by time (logs of different
    /// servers, whose pids would collide).
    #[arg(long, conflicts_with = "follow")]
    pub separate: bool,

    /// Keep reading as the input grows (a pipe from `docker logs -f`, or a file like
    /// `tail -F`, through its rotations): print an alert line as soon as something goes wrong,
    /// and the checklist at the end of the input or on Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,

    /// While following, serve live metrics for Prometheus at ADDR (`127.0.0.1:9464`, or a bare
    /// port for 127.0.0.1): GET /metrics (OpenMetrics when the scraper asks for it) and
    /// /healthz. After the input ends, the final metrics are served until Ctrl-C.
    #[arg(long, value_name = "ADDR", requires = "follow", value_parser = listen_addr)]
    pub metrics_listen: Option<SocketAddr>,

    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print nothing; only the exit status tells (0 ok, 1 a check failed, 2 error).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--metrics-listen` values: an address with its port, or a port alone (on 127.0.0.1: the
/// metrics name the logs' hosts and routes, so they stay on this machine unless asked).
fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(port) = t.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    t.parse().map_err(|_| {
        format!("'{s}' is not an address to listen on (127.0.0.1:9464, [::1]:9464, or 9464)")
    })
}

/// `--since` / `--until` values.
pub fn parse_when(s: &str) -> Result<Ts, String> {
    parse_when_at(s, chrono::Utc::now().timestamp_micros())
}

fn parse_when_at(s: &str, now_micros: i64) -> Result<Ts, String> {
    let t = s.trim();
    let bad = || {
        format!("'{s}' is not a time (2026-11-28T03:00:00Z, 2026-11-28 03:00, or an age like 2h)")
    };
    if let Some(unit) = t.chars().last().filter(|c| "smhd".contains(*c)) {
        if let Ok(n) = t[..t.len() - 1].parse::<u32>() {
            let secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => 86_400,
            };
            let age = i64::from(n).checked_mul(secs * 1_000_000).ok_or_else(bad)?;
            return now_micros.checked_sub(age).map(Ts).ok_or_else(bad);
        }
    }
    use nom::Parser;
    let b = t.as_bytes();
    if let Ok(([], ts)) = crate::parse::atoms::rfc3339.parse(b) {
        return Ok(ts);
    }
    let full = match b.len() {
        10 => format!("{t} 00:00:00"),
        16 => format!("{t}:00"),
        _ => t.to_string(),
    };
    match crate::parse::atoms::plain_log_time(full.as_bytes()) {
        Ok(([], ts)) => Ok(ts),
        _ => Err(bad()),
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

/// What a run needs, validated: the inputs, the output, and the settings that judge them.
#[derive(Debug, Clone)]
pub struct Options {
    pub sources: Vec<Source>,
    pub format: FormatArg,
    pub output: Option<PathBuf>,
    pub quiet: bool,
    pub color: bool,
    /// The flags and the settings file together.
    pub settings: Settings,
    pub since: Option<Ts>,
    pub until: Option<Ts>,
    pub separate: bool,
    pub follow: bool,
    /// Notices (finished requests, alerts) are wanted as they happen.
    pub notices: bool,
    /// Serve live metrics there while following.
    pub metrics_listen: Option<SocketAddr>,
}

/// A host as users may paste it, a URL included (`https://app.example.com/login`): the host
/// alone, with its port if it has one (`app.example.com`).
fn host_of(h: &str) -> String {
    let h = h.trim();
    let h = h.split_once("://").map_or(h, |(_, rest)| rest);
    let h = h.split(['/', '?', '#']).next().unwrap_or(h);
    let h = h.rsplit_once('@').map_or(h, |(_, host)| host);
    h.to_string()
}

impl Args {
    /// Validates the flags and the settings file; an error is a usage error (exit 2).
    pub fn into_options(self) -> Result<Options, String> {
        let (_, file) = settings::load(self.config.as_deref())?;
        let mut patterns = Patterns::default();
        for s in file.request_start.iter().chain(&self.request_start) {
            patterns.start.push(settings::compile(s, false)?);
        }
        for s in file.request_end.iter().chain(&self.request_end) {
            patterns.end.push(settings::compile(s, true)?);
        }
        let internal_nets = file
            .internal_networks
            .iter()
            .chain(&self.internal_net)
            .map(|n| Cidr::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(t) = file.timeout {
            positive_seconds(&t.to_string())
                .map_err(|e| format!("timeout in the settings file: {e}"))?;
        }
        let edge_files: Vec<PathBuf> = self
            .edge
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file() && !self.files.contains(p))
            .collect();
        let mut sources = if self.files.is_empty() {
            // `docker logs web | reqtrail --edge nginx.log`: the app's lines come in on stdin.
            if edge_files.is_empty() || !std::io::stdin().is_terminal() {
                vec![Source::Stdin]
            } else {
                Vec::new()
            }
        } else {
            self.files
                .into_iter()
                .map(|f| {
                    if f.as_os_str() == "-" {
                        Source::Stdin
                    } else {
                        Source::Path(f)
                    }
                })
                .collect()
        };
        sources.extend(edge_files.into_iter().map(Source::Path));
        if let Some(out) = self
            .output
            .as_deref()
            .and_then(|o| std::fs::canonicalize(o).ok())
        {
            // The report is written after the inputs are read: it would replace the log.
            let input = |s: &Source| matches!(s, Source::Path(p) if std::fs::canonicalize(p).is_ok_and(|p| p == out));
            if sources.iter().any(input) {
                return Err(format!(
                    "--output {} is one of the inputs: the report would overwrite it",
                    out.display()
                ));
            }
        }
        let color = match self.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                self.output.is_none()
                    && std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let mut health_paths: Vec<String> = file
            .health_paths
            .into_iter()
            .chain(self.health_path)
            .collect();
        if health_paths.is_empty() {
            health_paths = DEFAULT_HEALTH_PATHS.iter().map(|s| s.to_string()).collect();
        }
        let settings = Settings {
            public_hosts: file
                .public_hosts
                .iter()
                .chain(&self.public_host)
                .map(|h| host_of(h))
                .filter(|h| !h.is_empty())
                .collect(),
            timeout: self.timeout.or(file.timeout),
            health_paths,
            patterns: Arc::new(patterns),
            probe_agents: file
                .probe_user_agents
                .into_iter()
                .chain(self.probe_agent)
                .collect(),
            internal_nets,
            edges: file.edge.into_iter().chain(self.edge).collect(),
        };
        Ok(Options {
            sources,
            format: self.format,
            output: self.output,
            quiet: self.quiet,
            color,
            settings,
            since: self.since,
            until: self.until,
            separate: self.separate,
            follow: self.follow,
            notices: self.follow || self.format == FormatArg::Ndjson,
            metrics_listen: self.metrics_listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Args::try_parse_from(std::iter::once("reqtrail").chain(args.iter().copied()))
            .map(|a| a.into_options().expect("valid settings"))
    }

    #[test]
    fn metrics_listen_needs_follow_and_defaults_to_loopback() {
        assert!(parse(&["--metrics-listen", "127.0.0.1:9464"]).is_err());
        let c = parse(&["--follow", "--metrics-listen", "9464"]).unwrap();
        assert_eq!(
            c.metrics_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        let c = parse(&["-f", "--metrics-listen", "0.0.0.0:9100"]).unwrap();
        assert_eq!(
            c.metrics_listen,
            Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
        );
        assert!(parse(&["-f", "--metrics-listen", "localhost"]).is_err());
        assert_eq!(parse(&["-f"]).unwrap().metrics_listen, None);
    }

    #[test]
    fn defaults_read_stdin_as_table() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.sources, vec![Source::Stdin]);
        assert_eq!(c.format, FormatArg::Table);
        assert!(c.settings.health_paths.contains(&"/healthz".to_string()));
    }

    #[test]
    fn dash_is_stdin_and_lists_split() {
        let c = parse(&[
            "a.log",
            "-",
            "--public-host",
            "a.com,b.com",
            "--health-path=/hc/",
        ])
        .unwrap();
        assert_eq!(c.sources[1], Source::Stdin);
        assert_eq!(c.settings.public_hosts, vec!["a.com", "b.com"]);
        assert_eq!(c.settings.health_paths, vec!["/hc/"]);
    }

    #[test]
    fn a_public_host_given_as_a_url_is_its_host() {
        let c = parse(&[
            "--public-host",
            "https://user@App.example.com:8443/login?next=/#top, http://b.com,[::1]:80",
        ])
        .unwrap();
        assert_eq!(
            c.settings.public_hosts,
            vec!["App.example.com:8443", "b.com", "[::1]:80"]
        );
    }

    #[test]
    fn subcommands_and_output_flags() {
        let a = Args::try_parse_from(["reqtrail", "completions", "bash"]).unwrap();
        assert!(matches!(a.command, Some(Command::Completions { .. })));
        let c = parse(&["-q", "--format", "html", "-o", "r.html", "x.log"]).unwrap();
        assert!(c.quiet);
        assert_eq!(c.format, FormatArg::Html);
        assert_eq!(c.output, Some(PathBuf::from("r.html")));
        assert!(!c.color, "never colour a file");
        assert!(Args::try_parse_from(["reqtrail", "completions", "nosh"]).is_err());
    }

    #[test]
    fn custom_patterns_and_networks_are_validated_up_front() {
        let args = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("reqtrail").chain(extra.iter().copied()))
                .unwrap()
                .into_options()
        };
        let c = args(&[
            "--request-start",
            r"REQ (?P<method>\S+) (?P<path>\S+)",
            "--internal-net",
            "100.64.0.0/10",
        ])
        .unwrap();
        assert_eq!(c.settings.patterns.start.len(), 1);
        assert_eq!(c.settings.internal_nets.len(), 1);
        assert!(
            args(&["--request-end", r"RES (?P<method>\S+) (?P<path>\S+)"])
                .unwrap_err()
                .contains("status")
        );
        assert!(args(&["--request-start", "(?P<x>"])
            .unwrap_err()
            .contains("bad request-start pattern"));
        assert!(args(&["--internal-net", "10.0.0.0/99"]).is_err());
        assert!(args(&["--config", "/nonexistent/reqtrail.toml"])
            .unwrap_err()
            .contains("/nonexistent/reqtrail.toml"));
    }

    #[test]
    fn times_for_since_and_until() {
        let now = Ts(1_764_300_000_000_000);
        assert_eq!(
            parse_when_at("2h", now.0).unwrap(),
            Ts(now.0 - 7_200_000_000)
        );
        assert_eq!(parse_when_at("90s", now.0).unwrap(), Ts(now.0 - 90_000_000));
        let a = parse_when_at("2026-11-28T03:00:00Z", 0).unwrap();
        assert_eq!(parse_when_at("2026-11-28 03:00", 0).unwrap(), a);
        assert_eq!(parse_when_at("2026-11-28 03:00:00", 0).unwrap(), a);
        assert_eq!(
            parse_when_at("2026-11-28", 0).unwrap().0,
            a.0 - 3 * 3_600_000_000
        );
        assert!(parse_when_at("yesterday", 0).is_err());
        assert!(parse_when_at("99999999999999999d", 0).is_err());
        assert!(parse_when_at("-9223372036854s", 0).is_err());
        assert!(parse_when_at("4294967295d", i64::MIN / 2).is_err());
        assert!(parse(&["--since", "nope"]).is_err());
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(parse(&["--timeout", "0"]).is_err());
        assert!(parse(&["--timeout", "abc"]).is_err());
        assert!(parse(&["--format", "xml"]).is_err());
        assert!(parse(&["--nope"]).is_err());
        assert_eq!(
            parse(&["--timeout", "2.5"]).unwrap().settings.timeout,
            Some(2.5)
        );
    }
}
