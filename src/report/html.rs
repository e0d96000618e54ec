//! The report as one self-contained HTML page: the header facts, the checklist, the findings
//! with their evidence and fix, a timeline chart, latency per route and the details tables.
//!
//! The page loads nothing: CSS and JS are inline and a Content-Security-Policy forbids every
//! network load. The report's JSON is embedded (`<script type="application/json"
//! id="report-data">`) and the inline script draws the timeline from it as SVG, one
//! `data-bucket` group per timeline bucket, each with a `<title>` listing its counts.
//!
//! Log-borne text is untrusted: everything the server renders goes through [`h`] (control and
//! bidi characters shown as visible escapes, then `& < > " '` escaped); the embedded JSON goes
//! through [`json_for_script`] (`<`, `>`, `&`, controls, bidi and U+2028/9 as `\uXXXX`); the
//! script only ever sets `textContent`. The script also records `error`, unhandled rejections
//! and CSP violations in `<html data-errors>` and sets `data-rendered="1"` when done, so a
//! headless browser can check the page.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::escape::for_terminal;
use super::wire::{Bucket, Evidence, Severity, Status};
use super::{ms, Report};

/// The policy in the page's `<meta http-equiv="Content-Security-Policy">`.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Routes shown in the latency table.
const LATENCY_ROUTES: usize = 15;
/// Orphans listed in the table (the JSON holds up to 500).
const ORPHAN_ROWS: usize = 50;

/// Log-borne text made safe in HTML text and attribute values: control and bidi characters
/// (and U+2028/9) become visible escapes (`\x1b`), then `& < > " '` become entities.
pub fn h(text: &str) -> String {
    let text = for_terminal(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `json` (compact serde_json output) safe inside `<script type="application/json">`:
/// `<`, `>`, `&`, U+2028/9, control and bidi characters become `\uXXXX`. Compact serde_json
/// has such characters only inside strings, where `\uXXXX` means the same character, so the
/// value parses back unchanged.
pub fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        let unsafe_char = matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')
            || c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if unsafe_char {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn status_badge(s: Status) -> String {
    let class = match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::Unknown => "unknown",
    };
    format!("<span class=\"badge {class}\">{}</span>", s.as_str())
}

fn severity_badge(s: Severity) -> &'static str {
    match s {
        Severity::Fail => "<span class=\"badge fail\">FAIL</span>",
        Severity::Warn => "<span class=\"badge warn\">WARN</span>",
        Severity::Info => "<span class=\"badge unknown\">NOTE</span>",
    }
}

/// A serde enum's name (`worker_timeout`, `external`, …).
fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn seconds(v: f64) -> String {
    if v >= 3600.0 {
        let m = (v / 60.0).floor() as u64;
        format!("{} h {} min", m / 60, m % 60)
    } else if v >= 60.0 {
        format!("{:.0} min {:.0} s", (v / 60.0).floor(), v % 60.0)
    } else if v >= 10.0 {
        format!("{v:.0} s")
    } else {
        format!("{v:.1} s")
    }
}

/// Seconds from `a` to `b` (RFC 3339), when both parse.
fn span_seconds(a: &str, b: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(a).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(b).ok()?;
    Some((b - a).num_milliseconds() as f64 / 1000.0)
}

fn evidence_pre(ev: &[Evidence]) -> String {
    let mut s = String::from("<pre class=\"evidence\">");
    for e in ev {
        let _ = writeln!(
            s,
            "<span class=\"loc\">{}:{}</span>  {}",
            h(&e.file),
            e.line,
            h(&e.text)
        );
    }
    s.push_str("</pre>");
    s
}

const STYLE: &str = r#"
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--soft:#f8fafc;--accent:#1d4ed8}
*{box-sizing:border-box}
html{background:#fff;color:var(--fg)}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:22px;margin:0 0 4px;font-weight:650}
h1 .tool{color:var(--muted);font-weight:500}
h2{font-size:18px;margin:34px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line);font-weight:620}
h3{font-size:15px;margin:0 0 6px;font-weight:620}
p{margin:6px 0}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:13px}
.verdict{font-size:17px;margin:2px 0 16px}
.verdict.fail{color:#b91c1c}.verdict.ok{color:#15803d}.verdict.warn{color:#b45309}
.muted{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:150px 1fr;gap:3px 16px;margin:0;padding:12px 16px;background:var(--soft);border:1px solid var(--line);border-radius:6px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line);overflow-wrap:break-word}
td.mono,.mono{overflow-wrap:anywhere}
td.t{white-space:nowrap}
.where{display:block;color:var(--muted);font-size:12px;overflow-wrap:anywhere}
th{background:var(--soft);font-weight:600;border-bottom:2px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.checks td:first-child{width:24%}
table.checks td:nth-child(2){width:26%}
table.checks td:last-child,table.checks th:last-child{width:112px}
.id{display:block;color:var(--muted);font-size:12px}
.badge{display:inline-block;white-space:nowrap;min-width:64px;text-align:center;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:650;letter-spacing:.03em}
.badge.pass{background:#dcfce7;color:#166534}
.badge.fail{background:#fee2e2;color:#991b1b}
.badge.warn{background:#fef3c7;color:#92400e}
.badge.unknown{background:#e5e7eb;color:#374151}
tr.fail td{background:#fffafa}
details{margin-top:4px}
summary{cursor:pointer;color:var(--accent);font-size:13px}
.finding{border:1px solid var(--line);border-left:4px solid #9ca3af;border-radius:6px;padding:12px 16px;margin:12px 0}
.finding.fail{border-left-color:#dc2626}.finding.warn{border-left-color:#d97706}
.finding h3 .badge{margin-right:8px}
.fix{background:#eff6ff;border-radius:4px;padding:6px 10px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:8px 10px;margin:8px 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
pre .loc{color:var(--muted)}
.legend{display:grid;grid-template-columns:92px 1fr;gap:2px 8px;margin:6px 0 10px;font-size:13px}
.legend .group{color:var(--muted);font-weight:600}
.legend .items{display:flex;flex-wrap:wrap;gap:2px 18px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.sw.dot{border-radius:50%}
#chart{border:1px solid var(--line);border-radius:6px;padding:6px 4px 2px}
#chart svg{display:block;width:100%;height:auto}
#chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#4b5563}
#chart .lane{font-weight:600;fill:#374151}
#chart .grid{stroke:#eef0f3}#chart .axis{stroke:#cbd5e1}
#chart .hit{fill:transparent}
#chart .b:hover .hit{fill:#0f172a0f}
#chart .cnt{fill:#fff;font-size:10px;font-weight:650}
.k-probe{fill:#a5b4c8;background:#a5b4c8}
.k-health{fill:#60a5fa;background:#60a5fa}
.k-external{fill:#1d4ed8;background:#1d4ed8}
.k-2xx{fill:#22c55e;background:#22c55e}
.k-3xx{fill:#06b6d4;background:#06b6d4}
.k-4xx{fill:#f59e0b;background:#f59e0b}
.k-5xx{fill:#dc2626;background:#dc2626}
.k-orphans{fill:#7c3aed;background:#7c3aed}
.k-worker_timeouts{fill:#b91c1c;background:#b91c1c}
.k-worker_boots{fill:#64748b;background:#64748b}
.k-disallowed_hosts{fill:#ea580c;background:#ea580c}
footer{margin-top:36px;color:var(--muted);font-size:13px}
@media print{#chart .b:hover .hit{fill:transparent}}
"#;

/// Records errors, unhandled rejections and CSP violations in `<html data-errors>`.
const ERROR_HOOKS: &str = r#"(function(){var d=document.documentElement,e=[];
function rec(m){e.push(String(m).slice(0,300));d.setAttribute('data-errors',e.join(' | '));}
d.setAttribute('data-errors','');
window.addEventListener('error',function(ev){rec('error: '+(ev.message||(ev.target&&ev.target.tagName)||ev.type)+(ev.filename?' at '+ev.filename+':'+ev.lineno:''));},true);
window.addEventListener('unhandledrejection',function(ev){var r=ev.reason;rec('unhandled rejection: '+(r&&r.message?r.message:r));});
document.addEventListener('securitypolicyviolation',function(ev){rec('CSP violation: '+ev.violatedDirective+' '+ev.blockedURI);});
})();"#;

/// Draws the timeline from the embedded JSON. Text goes in through `textContent` only.
const CHART: &str = r#"(function(){
var NS='http://www.w3.org/2000/svg',root=document.documentElement;
var data=JSON.parse(document.getElementById('report-data').textContent);
var tl=data.timeline,B=tl.buckets,n=B.length,host=document.getElementById('chart');
function el(tag,attrs,parent){var x=document.createElementNS(NS,tag);for(var k in attrs){x.setAttribute(k,attrs[k]);}if(parent){parent.appendChild(x);}return x;}
function txt(s,attrs,parent){var t=el('text',attrs,parent);t.textContent=s;return t;}
if(!n){root.setAttribute('data-rendered','1');return;}
var REQ=['probe','health','external'],RES=['2xx','3xx','4xx','5xx'];
var EV=[['orphans','orphans'],['worker_timeouts','worker timeouts'],['worker_boots','worker boots'],['disallowed_hosts','DisallowedHost']];
var W=1144,L=132,R=14,PW=W-L-R,bw=PW/n,barW=bw>=4?Math.min(bw*0.78,56):bw;
var P1=16,PH=130,P2=P1+PH+34,LANE=P2+PH+22,LH=24,AX=LANE+LH*EV.length+6,H=AX+40;
function sum(b,keys){var s=0;for(var i=0;i<keys.length;i++){s+=b[keys[i]]||0;}return s;}
function nice(m){if(m<=0){return {top:1,step:1};}var p=Math.pow(10,Math.floor(Math.log10(m))-1),s=1;
var c=[1,2,5,10,20,50,100];for(var i=0;i<c.length;i++){s=Math.max(1,c[i]*p);if(Math.ceil(m/s)<=5){break;}}return {top:Math.ceil(m/s)*s,step:s};}
var svg=el('svg',{viewBox:'0 0 '+W+' '+H,role:'img','aria-label':'Timeline: requests by class, responses by status class and events per bucket'},host);
function panel(y0,keys,label1,label2){var m=0;for(var i=0;i<n;i++){m=Math.max(m,sum(B[i],keys));}var s=nice(m);
txt(label1,{x:4,y:y0+12,'class':'lane'},svg);txt(label2,{x:4,y:y0+28},svg);
for(var v=0;v<=s.top+1e-9;v+=s.step){var y=y0+PH-v/s.top*PH;el('line',{x1:L,x2:W-R,y1:y,y2:y,'class':v===0?'axis':'grid'},svg);
txt(String(Math.round(v)),{x:L-6,y:y+4,'text-anchor':'end'},svg);}return s.top;}
var top1=panel(P1,REQ,'Requests','by class'),top2=panel(P2,RES,'Responses','by status class');
for(var j=0;j<EV.length;j++){var ly=LANE+j*LH;txt(EV[j][1],{x:4,y:ly+LH/2+4,'class':'lane'},svg);el('line',{x1:L,x2:W-R,y1:ly+LH/2,y2:ly+LH/2,'class':'grid'},svg);}
var evMax={};for(j=0;j<EV.length;j++){var mx=0;for(var i=0;i<n;i++){mx=Math.max(mx,B[i][EV[j][0]]||0);}evMax[EV[j][0]]=mx;}
var secs=tl.bucket_seconds;
function when(s){return s.replace('T',' ').replace(/\.000Z$/,'').replace(/Z$/,'')+' UTC';}
function stack(g,b,x,y0,keys,top){var y=y0+PH;for(var k=0;k<keys.length;k++){var v=b[keys[k]]||0;if(!v){continue;}var hh=v/top*PH;y-=hh;
el('rect',{x:x,y:y,width:barW,height:hh,'class':'k-'+keys[k]},g);}}
for(i=0;i<n;i++){var b=B[i],x0=L+i*bw,x=x0+(bw-barW)/2,cx=x0+bw/2;
var g=el('g',{'class':'b','data-bucket':String(i),'data-start':b.start},svg);
var t=el('title',{},g);
t.textContent=when(b.start)+(secs===1?' (1 s)':' ('+secs+' s)')+'\nrequests '+sum(b,REQ)+': probe '+b.probe+', health '+b.health+', external '+b.external+
'\nresponses '+sum(b,RES)+': 2xx '+b['2xx']+', 3xx '+b['3xx']+', 4xx '+b['4xx']+', 5xx '+b['5xx']+
'\norphans '+b.orphans+', worker timeouts '+b.worker_timeouts+', worker boots '+b.worker_boots+', DisallowedHost '+b.disallowed_hosts;
el('rect',{x:x0,y:P1-6,width:bw,height:AX-P1+6,'class':'hit'},g);
stack(g,b,x,P1,REQ,top1);stack(g,b,x,P2,RES,top2);
for(j=0;j<EV.length;j++){var key=EV[j][0],v=b[key]||0;if(!v){continue;}var cy=LANE+j*LH+LH/2;
if(bw>=22){el('circle',{cx:cx,cy:cy,r:9,'class':'k-'+key},g);txt(String(v),{x:cx,y:cy+3.5,'text-anchor':'middle','class':'cnt'},g);}
else{el('circle',{cx:cx,cy:cy,r:Math.max(1.5,Math.min(bw/2+1,2+4*Math.sqrt(v/evMax[key]))),'class':'k-'+key},g);}}}
el('line',{x1:L,x2:W-R,y1:AX,y2:AX,'class':'axis'},svg);
var every=Math.max(1,Math.ceil(n/Math.floor(PW/96))),lastDate='';
for(i=0;i<n;i+=every){var s=B[i].start,date=s.slice(0,10),clock=secs<60?s.slice(11,19):s.slice(11,16);
var cxx=L+i*bw+bw/2;el('line',{x1:cxx,x2:cxx,y1:AX,y2:AX+4,'class':'axis'},svg);
txt(clock,{x:cxx,y:AX+17,'text-anchor':'middle'},svg);if(date!==lastDate){txt(date,{x:cxx,y:AX+32,'text-anchor':'middle'},svg);lastDate=date;}}
root.setAttribute('data-rendered','1');
})();"#;

struct Out<'a> {
    out: &'a mut dyn Write,
}

impl Out<'_> {
    fn put(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(s.as_bytes())
    }
}

fn verdict(r: &Report) -> (String, &'static str) {
    let fails = r.checks.iter().filter(|c| c.status == Status::Fail).count();
    let warns = r.checks.iter().filter(|c| c.status == Status::Warn).count();
    let class = if fails > 0 {
        "fail"
    } else if warns > 0 {
        "warn"
    } else {
        "ok"
    };
    let text = match r.findings.first() {
        Some(f) if f.severity != Severity::Info => f.title.clone(),
        _ if fails == 0 && warns == 0 => "no check failed".to_string(),
        _ if fails == 0 => format!("{warns} checks warn"),
        _ => format!("{fails} checks failed"),
    };
    (text, class)
}

fn header(r: &Report, o: &mut Out) -> io::Result<()> {
    let (text, class) = verdict(r);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<header><h1>reqtrail <span class=\"tool\">report</span></h1>\n<p class=\"verdict {class}\">{}</p>",
        h(&text)
    );
    s.push_str("<dl class=\"facts\">\n");
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{v}</dd>");
    };
    fact(
        "Tool",
        format!(
            "{} {} · schema {}",
            h(r.tool.name),
            h(r.tool.version),
            r.schema_version
        ),
    );
    let i = &r.input;
    fact(
        "Input",
        if i.files.is_empty() {
            "standard input".to_string()
        } else {
            i.files
                .iter()
                .map(|f| format!("<span class=\"mono\">{}</span>", h(f)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    fact(
        "Lines",
        format!(
            "{} of {} recognised ({} not{}{})",
            i.recognized,
            i.lines,
            i.unrecognized,
            if i.blank > 0 {
                format!("; {} blank", i.blank)
            } else {
                String::new()
            },
            i.outside_window(),
        ),
    );
    fact(
        "Time span",
        match (&i.first_time, &i.last_time) {
            (Some(a), Some(b)) => format!(
                "{} → {}{}",
                h(a),
                h(b),
                span_seconds(a, b)
                    .map(|d| format!(" ({})", seconds(d)))
                    .unwrap_or_default()
            ),
            _ => "no timestamps".to_string(),
        },
    );
    let sv = &r.server;
    let mut g: Vec<String> = sv.facts().iter().map(|f| h(f)).collect();
    g.push(format!("{} workers booted", sv.workers_booted));
    if sv.boot_failed {
        g.push("<strong>boot failed</strong>".to_string());
    }
    fact("Gunicorn", g.join(" · "));
    let mut w = vec![
        format!(
            "timeout {} s ({})",
            sv.timeout_seconds,
            h(&sv.timeout_source)
        ),
        format!("{} worker timeouts", sv.worker_timeouts),
        format!("{} killed", sv.workers_killed),
        format!("{} exited", sv.worker_exits),
    ];
    if sv.oom_suspected > 0 {
        w.push(format!("{} out of memory suspected", sv.oom_suspected));
    }
    fact("Workers", w.join(" · "));
    let q = &r.requests;
    fact(
        "Requests",
        format!(
            "{} (probe {}, health {}, external {}) · answered {} · orphaned {} · in flight {}{}",
            q.total,
            q.probe,
            q.health,
            q.external,
            q.answered,
            q.orphaned,
            q.in_flight,
            if q.evicted > 0 {
                format!(" · {} dropped from tracking", q.evicted)
            } else {
                String::new()
            }
        ),
    );
    if !q.status.is_empty() {
        fact(
            "Status codes",
            q.status
                .iter()
                .map(|(k, n)| format!("{} ×{n}", h(k)))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if !i.errors.is_empty() {
        fact(
            "Not read",
            i.errors
                .iter()
                .map(|e| h(e))
                .collect::<Vec<_>>()
                .join("<br>"),
        );
    }
    s.push_str("</dl></header>\n");
    o.put(&s)
}

fn checklist(r: &Report, o: &mut Out) -> io::Result<()> {
    let mut s = String::from(
        "<section id=\"checks\"><h2>Checklist</h2>\n<table class=\"checks\"><thead><tr>\
         <th>Check</th><th>Expected</th><th>Actual</th><th>Status</th></tr></thead><tbody>\n",
    );
    for c in &r.checks {
        let row_class = if c.status == Status::Fail {
            " class=\"fail\""
        } else {
            ""
        };
        let evidence = if c.evidence.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>evidence ({})</summary>{}</details>",
                c.evidence.len(),
                evidence_pre(&c.evidence)
            )
        };
        let _ = writeln!(
            s,
            "<tr{row_class} data-check=\"{}\"><td>{}<span class=\"id\">{}</span></td><td>{}</td><td>{}{evidence}</td><td>{}</td></tr>",
            h(c.id),
            h(c.title),
            h(c.id),
            h(&c.expected),
            h(&c.actual),
            status_badge(c.status)
        );
    }
    s.push_str("</tbody></table></section>\n");
    o.put(&s)
}

fn findings(r: &Report, o: &mut Out) -> io::Result<()> {
    let mut s = String::from("<section id=\"findings\"><h2>Findings</h2>\n");
    if r.findings.is_empty() {
        s.push_str("<p class=\"muted\">No findings.</p>\n");
    } else {
        s.push_str("<p class=\"muted\">Most likely cause first.</p>\n");
    }
    for (k, f) in r.findings.iter().enumerate() {
        let class = match f.severity {
            Severity::Fail => "fail",
            Severity::Warn => "warn",
            Severity::Info => "info",
        };
        let _ = writeln!(
            s,
            "<article class=\"finding {class}\" data-finding=\"{}\"><h3>{}{}. {}</h3>\n<p>{}</p>\n<p class=\"fix\"><strong>Fix:</strong> {}</p>",
            h(f.id),
            severity_badge(f.severity),
            k + 1,
            h(&f.title),
            h(&f.detail),
            h(&f.fix)
        );
        if !f.evidence.is_empty() {
            s.push_str(&evidence_pre(&f.evidence));
            s.push('\n');
        }
        s.push_str("</article>\n");
    }
    s.push_str("</section>\n");
    o.put(&s)
}

/// One series of the chart, for the legend: its CSS key (`k-…`), label and count.
struct Series {
    key: &'static str,
    label: &'static str,
    count: fn(&Bucket) -> u64,
}

const fn series(key: &'static str, label: &'static str, count: fn(&Bucket) -> u64) -> Series {
    Series { key, label, count }
}

/// The chart's series by group, as the script draws them (the `Events` are dots).
const LEGEND: [(&str, &[Series]); 3] = [
    (
        "Requests",
        &[
            series("probe", "probe", |b| b.probe),
            series("health", "health", |b| b.health),
            series("external", "external", |b| b.external),
        ],
    ),
    (
        "Responses",
        &[
            series("2xx", "2xx", |b| b.s2xx),
            series("3xx", "3xx", |b| b.s3xx),
            series("4xx", "4xx", |b| b.s4xx),
            series("5xx", "5xx", |b| b.s5xx),
        ],
    ),
    (
        "Events",
        &[
            series("orphans", "orphans", |b| b.orphans),
            series("worker_timeouts", "worker timeouts", |b| b.worker_timeouts),
            series("worker_boots", "worker boots", |b| b.worker_boots),
            series("disallowed_hosts", "DisallowedHost", |b| b.disallowed_hosts),
        ],
    ),
];

fn timeline(r: &Report, o: &mut Out) -> io::Result<()> {
    let t = &r.timeline;
    let mut s = String::from("<section id=\"timeline\"><h2>Timeline</h2>\n");
    if t.buckets.is_empty() {
        s.push_str(
            "<p class=\"muted\">No timestamps in the input: there is no timeline to draw.</p>\n",
        );
        s.push_str("<div id=\"chart\" hidden></div></section>\n");
        return o.put(&s);
    }
    let unit = match t.bucket_seconds {
        1 => "second".to_string(),
        60 => "minute".to_string(),
        w if w % 60 == 0 => format!("{} minutes", w / 60),
        w => format!("{w} seconds"),
    };
    let _ = writeln!(
        s,
        "<p class=\"muted\">One bar per {unit} ({} buckets, UTC). Hover a bar for its counts.</p>",
        t.buckets.len()
    );
    s.push_str("<div class=\"legend\">");
    for (group, series) in LEGEND {
        let _ = write!(
            s,
            "<span class=\"group\">{group}</span><span class=\"items\">"
        );
        for x in series {
            let n: u64 = t.buckets.iter().map(|b| (x.count)(&b.counts)).sum();
            let _ = write!(
                s,
                "<span><span class=\"sw{} k-{}\"></span>{} ({n})</span>",
                if group == "Events" { " dot" } else { "" },
                x.key,
                x.label
            );
        }
        s.push_str("</span>");
    }
    s.push_str("</div>\n<div id=\"chart\"></div>\n");
    s.push_str(
        "<noscript><p class=\"muted\">The chart is drawn by the page's inline script; \
         the counts are in the embedded JSON (script#report-data).</p></noscript>\n</section>\n",
    );
    o.put(&s)
}

fn latency(r: &Report, o: &mut Out) -> io::Result<()> {
    let l = &r.latency;
    if l.routes.is_empty() {
        return Ok(());
    }
    let mut s = String::from("<section id=\"latency\"><h2>Latency per route</h2>\n");
    let _ = writeln!(
        s,
        "<p class=\"muted\">{} paired requests; {} timestamps.</p>",
        l.measured,
        h(l.resolution)
    );
    s.push_str(
        "<table class=\"latency\"><thead><tr><th>Route</th><th class=\"num\">Count</th>\
         <th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
         <th class=\"num\">max</th><th class=\"num\">mean</th></tr></thead><tbody>\n",
    );
    for route in l.routes.iter().take(LATENCY_ROUTES) {
        let _ = writeln!(
            s,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            h(&route.route),
            route.count,
            ms(route.p50_ms),
            ms(route.p95_ms),
            ms(route.p99_ms),
            ms(route.max_ms),
            ms(route.mean_ms)
        );
    }
    s.push_str("</tbody></table>\n");
    if l.routes.len() > LATENCY_ROUTES {
        let _ = writeln!(
            s,
            "<p class=\"muted\">… and {} more routes (in the embedded JSON and --format json).</p>",
            l.routes.len() - LATENCY_ROUTES
        );
    }
    if !l.slowest.is_empty() {
        s.push_str(
            "<h3 style=\"margin-top:18px\">Slowest requests</h3>\n<table class=\"slowest\"><thead><tr>\
             <th>Request</th><th class=\"num\">Took</th><th class=\"num\">Status</th>\
             <th>Started</th></tr></thead><tbody>\n",
        );
        for x in &l.slowest {
            let _ = writeln!(
                s,
                "<tr><td class=\"mono\">{} {}<span class=\"where\">{}:{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"t\">{}</td></tr>",
                h(&x.method),
                h(&x.path),
                h(&x.file),
                x.line,
                ms(x.seconds * 1000.0),
                x.status.map(|c| c.to_string()).unwrap_or_else(|| "–".into()),
                h(&x.started)
            );
        }
        s.push_str("</tbody></table>\n");
    }
    s.push_str("</section>\n");
    o.put(&s)
}

fn details(r: &Report, o: &mut Out) -> io::Result<()> {
    let mut s = String::new();
    if !r.disallowed_hosts.is_empty() {
        s.push_str(
            "<section id=\"hosts\"><h2>Hosts rejected by ALLOWED_HOSTS</h2>\n<table><thead><tr>\
             <th>Host (as Django printed it)</th><th class=\"num\">Requests</th><th>Kind</th>\
             <th class=\"num\">From probes</th><th>ALLOWED_HOSTS entry</th></tr></thead><tbody>\n",
        );
        for v in &r.disallowed_hosts {
            let _ = writeln!(
                s,
                "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td>{}{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
                h(&v.host),
                v.count,
                h(&name(&v.kind)),
                if v.rfc_valid { "" } else { " (not a valid host name)" },
                v.probe_requests,
                h(&v.add_to_allowed_hosts)
            );
        }
        s.push_str("</tbody></table></section>\n");
    }
    if !r.orphans.is_empty() {
        s.push_str("<section id=\"orphans\"><h2>Requests never answered</h2>\n");
        if r.requests.orphaned as usize > ORPHAN_ROWS.min(r.orphans.len()) {
            let _ = writeln!(
                s,
                "<p class=\"muted\">The first {} of {}.</p>",
                ORPHAN_ROWS.min(r.orphans.len()),
                r.requests.orphaned
            );
        }
        s.push_str(
            "<table><thead><tr><th>Request</th><th>Host</th><th>Class</th><th>Started</th>\
             <th>Cause</th><th class=\"num\">Open</th><th class=\"num\">Client got</th>\
             </tr></thead><tbody>\n",
        );
        for x in r.orphans.iter().take(ORPHAN_ROWS) {
            let _ = writeln!(
                s,
                "<tr><td class=\"mono\">{} {}<span class=\"where\">{}:{}</span></td><td class=\"mono\">{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                h(&x.request.method),
                h(&x.request.path),
                h(&x.request.file),
                x.request.line,
                x.request.host.as_deref().map(h).unwrap_or_else(|| "–".into()),
                h(&name(&x.request.class)),
                x.request.started.as_deref().map(h).unwrap_or_else(|| "–".into()),
                h(&name(&x.cause).replace('_', " ")),
                x.request.open_seconds.map(seconds).unwrap_or_else(|| "–".into()),
                x.client_status.map(|c| c.to_string()).unwrap_or_else(|| "–".into())
            );
        }
        s.push_str("</tbody></table></section>\n");
    }
    if !r.input.unrecognized_samples.is_empty() {
        let _ = writeln!(
            s,
            "<section id=\"unrecognised\"><h2>Lines not recognised</h2>\n<p class=\"muted\">{} lines in no known layout; the first ones:</p>\n{}\n</section>",
            r.input.unrecognized,
            evidence_pre(&r.input.unrecognized_samples)
        );
    }
    o.put(&s)
}

pub fn write(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let json = serde_json::to_string(r).map_err(io::Error::from)?;
    let (verdict, _) = verdict(r);
    let mut o = Out { out };
    o.put(&format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"reqtrail {}\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>reqtrail: {}</title>\n<script>{ERROR_HOOKS}</script>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<main>\n",
        h(r.tool.version),
        h(&verdict)
    ))?;
    header(r, &mut o)?;
    checklist(r, &mut o)?;
    findings(r, &mut o)?;
    timeline(r, &mut o)?;
    latency(r, &mut o)?;
    details(r, &mut o)?;
    o.put(&format!(
        "<footer>Generated by reqtrail {}. This file is self-contained: it loads nothing, and \
         the full report (the same JSON as <code>--format json</code>) is embedded in \
         <code>script#report-data</code>.</footer>\n</main>\n",
        h(r.tool.version)
    ))?;
    o.put("<script type=\"application/json\" id=\"report-data\">")?;
    o.put(&json_for_script(&json))?;
    o.put("</script>\n<script>")?;
    o.put(CHART)?;
    o.put("</script>\n</body>\n</html>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_and_controls() {
        assert_eq!(
            h("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
        assert_eq!(h("\x1b]0;pwned\x07evil"), "\\x1b]0;pwned\\x07evil");
        assert_eq!(h("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(h("café"), "café");
        assert_eq!(h("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn json_stays_inert_and_equal() {
        let v = serde_json::json!({
            "host": "</script><script>alert(1)</script>\u{1b}]0;x\u{7}\u{2028}\u{2029}\u{7f}\u{9b}\u{202e}&>"
        });
        let s = json_for_script(&serde_json::to_string(&v).unwrap());
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202e}')));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
