//! The report as one self-contained HTML page: the header facts, the checklist, the findings
//! with their evidence and fix, a timeline chart, latency per route and the details tables.
//!
//! The page loads nothing: CSS and JS are inline and a Content-Security-Policy forbids every
//! network load. The report's JSON is embedded (`<script type="application/json"
//! id="report-data">`) and the inline script draws the timeline from it as SVG, one
//! `data-bucket` group per timeline bucket, each with a `<title>` listing its counts.
//!
//! The page is a maud template: every value spliced into it is escaped unless it is wrapped in
//! `PreEscaped`, which only the inline CSS and JS constants and the embedded JSON (escaped by
//! [`json_for_script`]) are. Log-borne text is untrusted and goes in as [`LogText`] (through
//! `t`), which escapes more than maud does: control and bidi characters shown as visible
//! escapes, then `& < > " '` escaped. Text put in without it is still escaped by maud (`& < >
//! "`), only less. The embedded JSON has `<`, `>`, `&`, controls, bidi and U+2028/9 as
//! `\uXXXX`; the script only ever sets `textContent`. The script also records `error`,
//! unhandled rejections and CSP violations in `<html data-errors>` and sets
//! `data-rendered="1"` when done, so a headless browser can check the page.

use std::fmt::Write as _;
use std::io::{self, Write};

use maud::{html, Markup, PreEscaped, Render};

use super::edge_section::{self, FailureGroup};
use super::escape::for_terminal;
use super::wire::{Bucket, Evidence, Severity, Status};
use super::{latency_text, Report};

/// The policy in the page's `<meta http-equiv="Content-Security-Policy">`.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Routes shown in the latency table.
const LATENCY_ROUTES: usize = 15;
/// Orphans listed in the table (the JSON holds up to 500).
const ORPHAN_ROWS: usize = 50;

/// Log-borne text in the page, safe in HTML text and attribute values: control and bidi
/// characters (and U+2028/9) become visible escapes (`\x1b`), then `& < > " '` become
/// entities. maud's own escaping leaves `'` and control characters as they are.
pub struct LogText<'a>(pub &'a str);

impl Render for LogText<'_> {
    fn render_to(&self, out: &mut String) {
        let text = for_terminal(self.0);
        out.reserve(text.len() + 8);
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
    }
}

/// `text` as [`LogText`], for splicing into the template: `(t(&x.path))`.
fn t(text: &str) -> LogText<'_> {
    LogText(text)
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

fn status_badge(s: Status) -> Markup {
    let class = match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::Unknown => "unknown",
    };
    html! { span class={ "badge " (class) } { (s.as_str()) } }
}

fn severity_badge(s: Severity) -> Markup {
    let (class, label) = match s {
        Severity::Fail => ("fail", "FAIL"),
        Severity::Warn => ("warn", "WARN"),
        Severity::Info => ("unknown", "NOTE"),
    };
    html! { span class={ "badge " (class) } { (label) } }
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

/// Log lines, one a line: `file:line` and the line's text.
fn evidence_pre(ev: &[Evidence]) -> Markup {
    html! {
        pre class="evidence" {
            @for e in ev {
                span class="loc" { (t(&e.file)) ":" (e.line) } "  " (t(&e.text)) "\n"
            }
        }
    }
}

/// Log-borne text, or `–` when there is none.
fn or_dash(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text { (t(text)) } @else { "–" }
    }
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

/// One `<dt>`/`<dd>` pair of the header's facts.
fn fact(key: &str, value: Markup) -> Markup {
    html! { dt { (key) } dd { (value) } "\n" }
}

fn header(r: &Report) -> Markup {
    let (text, class) = verdict(r);
    let i = &r.input;
    let sv = &r.server;
    let q = &r.requests;
    html! {
        header {
            h1 { "reqtrail " span class="tool" { "report" } }
            "\n"
            p class={ "verdict " (class) } { (t(&text)) }
            "\n"
            dl class="facts" {
                "\n"
                (fact("Tool", html! {
                    (t(r.tool.name)) " " (t(r.tool.version)) " · schema " (r.schema_version)
                }))
                (fact("Input", html! {
                    @if i.files.is_empty() {
                        "standard input"
                    } @else {
                        @for (n, f) in i.files.iter().enumerate() {
                            @if n > 0 { ", " }
                            span class="mono" { (t(f)) }
                        }
                    }
                }))
                (fact("Lines", html! {
                    (i.recognized) " of " (i.lines) " recognised (" (i.unrecognized) " not"
                    @if i.blank > 0 { "; " (i.blank) " blank" }
                    (i.outside_window()) ")"
                }))
                (fact("Time span", html! {
                    @if let (Some(a), Some(b)) = (&i.first_time, &i.last_time) {
                        (t(a)) " → " (t(b))
                        @if let Some(d) = span_seconds(a, b) { " (" (seconds(d)) ")" }
                    } @else {
                        "no timestamps"
                    }
                }))
                (fact("Gunicorn", html! {
                    @for f in sv.facts() { (t(&f)) " · " }
                    (sv.workers_booted) " workers booted"
                    @if sv.boot_failed { " · " strong { "boot failed" } }
                }))
                (fact("Workers", html! {
                    "timeout " (sv.timeout_seconds) " s (" (t(&sv.timeout_source)) ") · "
                    (sv.worker_timeouts) " worker timeouts · "
                    (sv.workers_killed) " killed · " (sv.worker_exits) " exited"
                    @if sv.oom_suspected > 0 { " · " (sv.oom_suspected) " out of memory suspected" }
                }))
                (fact("Requests", html! {
                    (q.total) " (probe " (q.probe) ", health " (q.health) ", external "
                    (q.external) ") · answered " (q.answered)
                    @if q.client_gone > 0 { " · client gone before the answer " (q.client_gone) }
                    " · orphaned " (q.orphaned)
                    " · in flight " (q.in_flight)
                    @if q.evicted > 0 { " · " (q.evicted) " dropped from tracking" }
                }))
                @if !q.status.is_empty() {
                    (fact("Status codes", html! {
                        @for (n, (k, count)) in q.status.iter().enumerate() {
                            @if n > 0 { ", " }
                            (t(k)) " ×" (count)
                        }
                    }))
                }
                @if !i.errors.is_empty() {
                    (fact("Not read", html! {
                        @for (n, e) in i.errors.iter().enumerate() {
                            @if n > 0 { br; }
                            (t(e))
                        }
                    }))
                }
            }
        }
        "\n"
    }
}

fn checklist(r: &Report) -> Markup {
    html! {
        section id="checks" {
            h2 { "Checklist" } "\n"
            table class="checks" {
                thead { tr { th { "Check" } th { "Expected" } th { "Actual" } th { "Status" } } }
                tbody {
                    "\n"
                    @for c in &r.checks {
                        tr class=[(c.status == Status::Fail).then_some("fail")] data-check=(t(c.id)) {
                            td { (t(c.title)) span class="id" { (t(c.id)) } }
                            td { (t(&c.expected)) }
                            td {
                                (t(&c.actual))
                                @if !c.evidence.is_empty() {
                                    details {
                                        summary { "evidence (" (c.evidence.len()) ")" }
                                        (evidence_pre(&c.evidence))
                                    }
                                }
                            }
                            td { (status_badge(c.status)) }
                        }
                        "\n"
                    }
                }
            }
        }
        "\n"
    }
}

fn findings(r: &Report) -> Markup {
    html! {
        section id="findings" {
            h2 { "Findings" } "\n"
            @if r.findings.is_empty() {
                p class="muted" { "No findings." } "\n"
            } @else {
                p class="muted" { "Most likely cause first." } "\n"
            }
            @for (k, f) in r.findings.iter().enumerate() {
                @let class = match f.severity {
                    Severity::Fail => "fail",
                    Severity::Warn => "warn",
                    Severity::Info => "info",
                };
                article class={ "finding " (class) } data-finding=(t(f.id)) {
                    h3 { (severity_badge(f.severity)) (k + 1) ". " (t(&f.title)) } "\n"
                    p { (t(&f.detail)) } "\n"
                    p class="fix" { strong { "Fix:" } " " (t(&f.fix)) } "\n"
                    @if !f.evidence.is_empty() {
                        (evidence_pre(&f.evidence)) "\n"
                    }
                }
                "\n"
            }
        }
        "\n"
    }
}

/// "At the edge: what users saw", when an edge's log was read: the counts, the sources and
/// the failures grouped, each with a line from both sides.
fn edge(r: &Report) -> Markup {
    let Some(s) = edge_section::section(&r.edge, &r.input) else {
        return html! {};
    };
    html! {
        section id="edge" {
            h2 { "At the edge: what users saw" } "\n"
            ul {
                li { (t(&s.summary)) }
                @if let Some(p) = &s.per_edge { li { (t(p)) } }
                li { (t(&s.clock)) }
                li {
                    "Sources:"
                    ul { @for line in &s.sources { li { (t(line)) } } }
                }
            }
            "\n"
            @if let Some(heading) = &s.failures { p class="muted" { (t(heading)) } "\n" }
            @if !s.groups.is_empty() {
                table class="edge-failures" {
                    thead { tr {
                        th { "Users got" } th class="num" { "Count" } th { "Request" }
                        th { "Edge said" } th { "App side" }
                    } }
                    tbody {
                        "\n"
                        @for g in &s.groups { (failure_group(g)) }
                    }
                }
                "\n"
            }
            @if let Some(more) = &s.more { p class="muted" { (t(more)) } "\n" }
        }
        "\n"
    }
}

/// One group's row, and a row under it with a line from each side.
fn failure_group(g: &FailureGroup<'_>) -> Markup {
    let lines = &g.lines;
    html! {
        tr {
            td class="num" { (t(&g.got)) }
            td class="num" { (g.count) }
            td class="mono" { (t(&g.request)) span class="where" { (t(&g.at)) } }
            td { (or_dash(g.edge_said.as_deref())) }
            td { (t(&g.app_side)) }
        }
        "\n"
        @if !lines.is_empty() {
            tr {
                td colspan="5" {
                    pre class="evidence" {
                        @for (tag, e) in lines {
                            span class="loc" { (tag) (t(&e.file)) ":" (e.line) } "  " (t(&e.text)) "\n"
                        }
                    }
                }
            }
            "\n"
        }
    }
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

fn timeline(r: &Report) -> Markup {
    let tl = &r.timeline;
    let unit = match tl.bucket_seconds {
        1 => "second".to_string(),
        60 => "minute".to_string(),
        w if w % 60 == 0 => format!("{} minutes", w / 60),
        w => format!("{w} seconds"),
    };
    html! {
        section id="timeline" {
            h2 { "Timeline" } "\n"
            @if tl.buckets.is_empty() {
                p class="muted" { "No timestamps in the input: there is no timeline to draw." }
                "\n"
                div id="chart" hidden {}
            } @else {
                p class="muted" {
                    "One bar per " (unit) " (" (tl.buckets.len())
                    " buckets, UTC). Hover a bar for its counts."
                }
                "\n"
                div class="legend" {
                    @for (group, series) in LEGEND {
                        span class="group" { (group) }
                        span class="items" {
                            @for x in series {
                                @let n: u64 = tl.buckets.iter().map(|b| (x.count)(&b.counts)).sum();
                                span {
                                    span class={
                                        "sw" @if group == "Events" { " dot" } " k-" (x.key)
                                    } {}
                                    (x.label) " (" (n) ")"
                                }
                            }
                        }
                    }
                }
                "\n"
                div id="chart" {}
                "\n"
                noscript {
                    p class="muted" {
                        "The chart is drawn by the page's inline script; the counts are in the \
                         embedded JSON (script#report-data)."
                    }
                }
                "\n"
            }
        }
        "\n"
    }
}

fn latency(r: &Report) -> Markup {
    let l = &r.latency;
    if l.routes.is_empty() {
        return html! {};
    }
    // As precise as the times behind them: whole seconds never show as `0.0 ms`.
    let shown = |v: f64| latency_text(v, l.resolution);
    html! {
        section id="latency" {
            h2 { "Latency per route" } "\n"
            p class="muted" { (l.measured) " paired requests; " (t(l.resolution)) " timestamps." }
            "\n"
            table class="latency" {
                thead { tr {
                    th { "Route" } th class="num" { "Count" } th class="num" { "p50" }
                    th class="num" { "p95" } th class="num" { "p99" } th class="num" { "max" }
                    th class="num" { "mean" }
                } }
                tbody {
                    "\n"
                    @for route in l.routes.iter().take(LATENCY_ROUTES) {
                        tr {
                            td class="mono" { (t(&route.route)) }
                            td class="num" { (route.count) }
                            td class="num" { (shown(route.p50_ms)) }
                            td class="num" { (shown(route.p95_ms)) }
                            td class="num" { (shown(route.p99_ms)) }
                            td class="num" { (shown(route.max_ms)) }
                            td class="num" { (shown(route.mean_ms)) }
                        }
                        "\n"
                    }
                }
            }
            "\n"
            @if l.routes.len() > LATENCY_ROUTES {
                p class="muted" {
                    "… and " (l.routes.len() - LATENCY_ROUTES)
                    " more routes (in the embedded JSON and --format json)."
                }
                "\n"
            }
            @if !l.slowest.is_empty() {
                h3 style="margin-top:18px" { "Slowest requests" } "\n"
                table class="slowest" {
                    thead { tr {
                        th { "Request" } th class="num" { "Took" } th class="num" { "Status" }
                        th { "Started" }
                    } }
                    tbody {
                        "\n"
                        @for x in &l.slowest {
                            tr {
                                td class="mono" {
                                    (t(&x.method)) " " (t(&x.path))
                                    span class="where" { (t(&x.file)) ":" (x.line) }
                                }
                                td class="num" { (shown(x.seconds * 1000.0)) }
                                td class="num" {
                                    @if let Some(c) = x.status { (c) } @else { "–" }
                                }
                                td class="t" { (t(&x.started)) }
                            }
                            "\n"
                        }
                    }
                }
                "\n"
            }
        }
        "\n"
    }
}

fn disallowed_hosts(r: &Report) -> Markup {
    if r.disallowed_hosts.is_empty() {
        return html! {};
    }
    html! {
        section id="hosts" {
            h2 { "Hosts rejected by ALLOWED_HOSTS" } "\n"
            table {
                thead { tr {
                    th { "Host (as Django printed it)" } th class="num" { "Requests" }
                    th { "Kind" } th class="num" { "From probes" } th { "ALLOWED_HOSTS entry" }
                } }
                tbody {
                    "\n"
                    @for v in &r.disallowed_hosts {
                        tr {
                            td class="mono" { (t(&v.host)) }
                            td class="num" { (v.count) }
                            td {
                                (t(&name(&v.kind)))
                                @if !v.rfc_valid { " (not a valid host name)" }
                            }
                            td class="num" { (v.probe_requests) }
                            td class="mono" { (t(&v.add_to_allowed_hosts)) }
                        }
                        "\n"
                    }
                }
            }
        }
        "\n"
    }
}

fn orphans(r: &Report) -> Markup {
    if r.orphans.is_empty() {
        return html! {};
    }
    let shown = ORPHAN_ROWS.min(r.orphans.len());
    html! {
        section id="orphans" {
            h2 { "Requests never answered" } "\n"
            @if r.requests.orphaned as usize > shown {
                p class="muted" { "The first " (shown) " of " (r.requests.orphaned) "." } "\n"
            }
            table {
                thead { tr {
                    th { "Request" } th { "Host" } th { "Class" } th { "Started" } th { "Cause" }
                    th class="num" { "Open" } th class="num" { "Client got" }
                } }
                tbody {
                    "\n"
                    @for x in r.orphans.iter().take(ORPHAN_ROWS) {
                        @let q = &x.request;
                        tr {
                            td class="mono" {
                                (t(&q.method)) " " (t(&q.path))
                                span class="where" { (t(&q.file)) ":" (q.line) }
                            }
                            td class="mono" { (or_dash(q.host.as_deref())) }
                            td { (t(&name(&q.class))) }
                            td class="t" { (or_dash(q.started.as_deref())) }
                            td { (t(&name(&x.cause).replace('_', " "))) }
                            td class="num" {
                                @if let Some(s) = q.open_seconds { (seconds(s)) } @else { "–" }
                            }
                            td class="num" {
                                @if let Some(c) = x.client_status { (c) } @else { "–" }
                            }
                        }
                        "\n"
                    }
                }
            }
        }
        "\n"
    }
}

fn unrecognised(r: &Report) -> Markup {
    let i = &r.input;
    if i.unrecognized_samples.is_empty() {
        return html! {};
    }
    html! {
        section id="unrecognised" {
            h2 { "Lines not recognised" } "\n"
            p class="muted" { (i.unrecognized) " lines in no known layout; the first ones:" }
            "\n" (evidence_pre(&i.unrecognized_samples)) "\n"
        }
        "\n"
    }
}

pub fn write(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let json = serde_json::to_string(r).map_err(io::Error::from)?;
    let (verdict, _) = verdict(r);
    let version = t(r.tool.version);
    let page = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8"; "\n"
                meta http-equiv="Content-Security-Policy" content=(CSP); "\n"
                meta name="referrer" content="no-referrer"; "\n"
                meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
                meta name="generator" content={ "reqtrail " (version) }; "\n"
                link rel="icon" href="data:,"; "\n"
                title { "reqtrail: " (t(&verdict)) } "\n"
                script { (PreEscaped(ERROR_HOOKS)) } "\n"
                style { (PreEscaped(STYLE)) } "\n"
            }
            "\n"
            body {
                "\n"
                main {
                    "\n"
                    (header(r)) (checklist(r)) (findings(r)) (edge(r)) (timeline(r)) (latency(r))
                    (disallowed_hosts(r)) (orphans(r)) (unrecognised(r))
                    footer {
                        "Generated by reqtrail " (version) ". This file is self-contained: it \
                         loads nothing, and the full report (the same JSON as "
                        code { "--format json" } ") is embedded in " code { "script#report-data" } "."
                    }
                    "\n"
                }
                "\n"
                script type="application/json" id="report-data" {
                    (PreEscaped(json_for_script(&json)))
                }
                "\n"
                script { (PreEscaped(CHART)) } "\n"
            }
            "\n"
        }
        "\n"
    };
    out.write_all(page.into_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-borne text escaped as the page escapes it.
    fn h(text: &str) -> String {
        t(text).render().into_string()
    }

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
