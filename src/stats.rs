//! Bounded, mergeable aggregates over requests: latency per route and activity over time.
//!
//! Both are filled as records are settled and merged across files and pods, so their memory
//! does not grow with the input: latencies go into a log-scale histogram per route (at most
//! [`MAX_ROUTES`] routes), activity into per-second buckets while the span is short and
//! per-minute buckets always (widened when there would be more than [`MAX_COARSE_BUCKETS`]).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::parse::Ts;
use crate::time::Precision;

/// Routes followed with their own latency histogram; the rest are folded into `(other)`.
pub const MAX_ROUTES: usize = 500;
/// Slowest requests kept.
pub const SLOWEST: usize = 10;

/// Sub-buckets per power of two: percentiles are exact to within 1/8 (12 %).
const SUB: u32 = 8;
const BUCKETS: usize = 64 * SUB as usize;

/// `/api/reports/42/` → `/api/reports/{id}/`: segments that are numbers, UUIDs, long hex or
/// long tokens with digits become `{id}`, so one route gathers all its requests.
pub fn route_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    push_route(&mut out, path);
    out
}

/// Appends the route of `path` (see [`route_of`]) to `out`.
fn push_route(out: &mut String, path: &str) {
    let path = path.split('?').next().unwrap_or(path);
    for (k, seg) in path.split('/').enumerate() {
        if k > 0 {
            out.push('/');
        }
        out.push_str(if is_id(seg) { "{id}" } else { seg });
    }
}

fn is_id(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    if digits == seg.len() {
        return true;
    }
    let hexish = seg.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-');
    if hexish && seg.len() >= 12 && digits > 0 {
        return true; // UUIDs, hashes
    }
    let tokenish = seg
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    tokenish && seg.len() >= 20 && digits > 0
}

/// A log-scale histogram of durations in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    n: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            n: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < u64::from(SUB) {
        return v as usize;
    }
    let p = 63 - v.leading_zeros(); // v in [2^p, 2^(p+1))
    let shift = p - SUB.trailing_zeros();
    let sub = ((v >> shift) as u32) - SUB; // 0..SUB
    (((p - SUB.trailing_zeros() + 1) * SUB) + sub) as usize
}

/// The largest value that falls in bucket `b`.
fn bucket_top(b: usize) -> u64 {
    let b = b as u32;
    if b < SUB {
        return u64::from(b);
    }
    let p = b / SUB - 1 + SUB.trailing_zeros();
    let sub = u64::from(b % SUB + SUB);
    let shift = p - SUB.trailing_zeros();
    ((sub + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    pub fn add(&mut self, micros: u64) {
        self.counts[bucket_of(micros).min(BUCKETS - 1)] += 1;
        self.n += 1;
        self.max = self.max.max(micros);
        self.sum += u128::from(micros);
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.n += o.n;
        self.max = self.max.max(o.max);
        self.sum += o.sum;
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    /// The value below which a fraction `q` of the samples fall (upper bucket bound, ≤ max).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_top(b).min(self.max);
            }
        }
        self.max
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The sum of the samples, in microseconds.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Samples whose bucket starts at or below `micros`: those at or below it, and at most
    /// one bucket's width (1/8, 12 %) above it (a bucket is never split).
    pub fn count_at_most(&self, micros: u64) -> u64 {
        let mut n = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            let start = if b == 0 {
                0
            } else {
                bucket_top(b - 1).saturating_add(1)
            };
            if start > micros {
                break;
            }
            n += c;
        }
        n
    }

    pub fn mean(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            (self.sum / u128::from(self.n)) as u64
        }
    }
}

/// One slow request, for the "slowest" list.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub method: String,
    pub path: String,
    pub seconds: f64,
    pub started: String,
    pub status: Option<u16>,
    pub file: std::sync::Arc<str>,
    pub line: u64,
}

/// Latency per route, and the slowest requests.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// By route, in the order first seen (reports sort them). At most [`MAX_ROUTES`] and
    /// [`OTHER_ROUTES`], which takes the requests of the routes past the cap.
    pub routes: Vec<(String, Histogram)>,
    /// Where each route's histogram is in `routes`.
    slots: FxHashMap<String, usize>,
    pub slowest: Vec<Slow>,
    pub measured: u64,
    /// Of those, latencies measured between sub-second timestamps.
    pub sub_second: u64,
    /// The route slot of recent (method, path) pairs, by a hash of the pair: working the
    /// route out of the path (`push_route`) was an eighth of correlating, and finding its
    /// histogram by the route's text a sixth of settling a request.
    keys: FxHashMap<u64, (String, Box<[u8]>, usize)>,
}

/// Most (method, path) pairs whose route key is remembered.
const MAX_KEYS: usize = 4096;

pub const OTHER_ROUTES: &str = "(other routes)";

impl Latency {
    /// Records one paired request of `method` on `path` (counted under its route); `hash`
    /// identifies the pair (equal pairs, equal hashes), to find its route key again.
    /// `precision`: the less precise of its two ends' times. Inlined (one caller, every
    /// request): thin LTO made it a call in some builds and not in others (~4 M instructions
    /// on the slice); a pair seen for the first time is remembered out of line.
    #[inline]
    pub fn add(
        &mut self,
        (method, path, hash): (&str, &[u8], u64),
        micros: u64,
        precision: Precision,
        slow: impl FnOnce() -> Slow,
    ) {
        self.measured += 1;
        if precision == Precision::SubSecond {
            self.sub_second += 1;
        }
        let known = self
            .keys
            .get(&hash)
            .filter(|(m, p, _)| m == method && **p == *path);
        let slot = match known {
            Some(&(_, _, slot)) => slot,
            None => self.remember(method, path, hash),
        };
        self.routes[slot].1.add(micros);
        let fastest_kept = self.slowest.last().map(|s| s.seconds);
        if self.slowest.len() < SLOWEST || fastest_kept.is_some_and(|f| (micros as f64 / 1e6) > f) {
            let s = slow();
            let at = self.slowest.partition_point(|x| x.seconds >= s.seconds);
            self.slowest.insert(at, s);
            self.slowest.truncate(SLOWEST);
        }
    }

    /// The slot of a (method, path) pair not seen before (or forgotten), remembered by `hash`.
    #[cold]
    fn remember(&mut self, method: &str, path: &[u8], hash: u64) -> usize {
        let mut key = format!("{method} ");
        push_route(&mut key, &String::from_utf8_lossy(path));
        // Once the cap is reached no route is added: a slot remembered stays right.
        let slot = self.slot(key);
        if self.keys.len() >= MAX_KEYS {
            self.keys.clear();
        }
        self.keys
            .insert(hash, (method.to_string(), path.into(), slot));
        slot
    }

    /// Where route `key`'s histogram is, made if the cap leaves room, else [`OTHER_ROUTES`]'s.
    fn slot(&mut self, key: String) -> usize {
        if let Some(&slot) = self.slots.get(&key) {
            return slot;
        }
        let key = if self.routes.len() < MAX_ROUTES {
            key
        } else {
            OTHER_ROUTES.to_string()
        };
        let next = self.routes.len();
        let slot = *self.slots.entry(key.clone()).or_insert(next);
        if slot == next {
            self.routes.push((key, Histogram::default()));
        }
        slot
    }

    /// Route `key`'s histogram, if it has one.
    pub fn route(&self, key: &str) -> Option<&Histogram> {
        self.slots.get(key).map(|&slot| &self.routes[slot].1)
    }

    pub fn merge(&mut self, o: Latency) {
        // In key order, so that which routes fit under the cap does not depend on hashing.
        let mut routes = o.routes;
        routes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, h) in routes {
            let slot = self.slot(k);
            self.routes[slot].1.merge(&h);
        }
        for s in o.slowest {
            let at = self.slowest.partition_point(|x| x.seconds >= s.seconds);
            self.slowest.insert(at, s);
        }
        self.slowest.truncate(SLOWEST);
        self.measured += o.measured;
        self.sub_second += o.sub_second;
    }
}

/// What happened in one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub probe: u64,
    pub health: u64,
    pub external: u64,
    pub s2xx: u64,
    pub s3xx: u64,
    pub s4xx: u64,
    pub s5xx: u64,
    pub orphans: u64,
    pub worker_timeouts: u64,
    pub worker_boots: u64,
    pub disallowed_hosts: u64,
}

impl Bucket {
    /// Counts one response by its status class.
    pub fn count_status(&mut self, status: u16) {
        match status / 100 {
            2 => self.s2xx += 1,
            3 => self.s3xx += 1,
            4 => self.s4xx += 1,
            5 => self.s5xx += 1,
            _ => {}
        }
    }

    fn merge(&mut self, o: &Bucket) {
        self.probe += o.probe;
        self.health += o.health;
        self.external += o.external;
        self.s2xx += o.s2xx;
        self.s3xx += o.s3xx;
        self.s4xx += o.s4xx;
        self.s5xx += o.s5xx;
        self.orphans += o.orphans;
        self.worker_timeouts += o.worker_timeouts;
        self.worker_boots += o.worker_boots;
        self.disallowed_hosts += o.disallowed_hosts;
    }

    pub fn requests(&self) -> u64 {
        self.probe + self.health + self.external
    }
}

/// Activity over time: per second while the input is short, and in coarse buckets (one minute
/// wide, widened as needed to stay under [`MAX_COARSE_BUCKETS`]) always.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub seconds: Option<BTreeMap<i64, Bucket>>,
    /// Start (seconds since the epoch, a multiple of `width`) → bucket.
    pub coarse: BTreeMap<i64, Bucket>,
    /// Width of the coarse buckets in seconds: 60, or a multiple of it.
    pub width: i64,
    /// Events with no time at all.
    pub untimed: Bucket,
    /// The events of the latest second, not yet added to the maps: most events fall in the
    /// same second as the one before, and two map updates per event were ~9% of correlating.
    /// [`Timeline::settle`] adds them; merging settles both sides.
    pending: Option<(i64, Bucket)>,
    /// The coarse bucket the latest seconds fall in, not yet added to `coarse`: each second
    /// went into the map on its own (an ordered map's search per second of log, about a
    /// million for a GiB of gen.py's log, a request or two per second over three weeks).
    pending_coarse: Option<(i64, Bucket)>,
}

/// Most coarse buckets kept; past that they are merged into buckets twice as wide.
pub const MAX_COARSE_BUCKETS: usize = 20_000;

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            seconds: Some(BTreeMap::new()),
            coarse: BTreeMap::new(),
            width: 60,
            untimed: Bucket::default(),
            pending: None,
            pending_coarse: None,
        }
    }
}

/// The start of the `width`-second bucket second `sec` falls in.
fn bucket_start(sec: i64, width: i64) -> i64 {
    sec.div_euclid(width) * width
}

fn rebucket(map: BTreeMap<i64, Bucket>, width: i64) -> BTreeMap<i64, Bucket> {
    let mut out: BTreeMap<i64, Bucket> = BTreeMap::new();
    for (k, b) in map {
        out.entry(bucket_start(k, width)).or_default().merge(&b);
    }
    out
}

impl Timeline {
    /// Applies `f` to the buckets `t` falls in.
    pub fn at(&mut self, t: Option<Ts>, f: impl Fn(&mut Bucket)) {
        let Some(t) = t else {
            f(&mut self.untimed);
            return;
        };
        let sec = t.0.div_euclid(1_000_000);
        match &mut self.pending {
            Some((s, b)) if *s == sec => f(b),
            _ => {
                self.next_second();
                let mut b = Bucket::default();
                f(&mut b);
                self.pending = Some((sec, b));
            }
        }
    }

    /// Adds the pending events to the maps.
    pub fn settle(&mut self) {
        self.next_second();
        self.add_coarse();
    }

    /// Adds the pending second's events to the seconds and to its coarse bucket, which goes
    /// into the map once a second of another bucket comes (the map widens, if it must, just
    /// as if each second had gone in: the same keys come in the same order).
    fn next_second(&mut self) {
        let Some((sec, b)) = self.pending.take() else {
            return;
        };
        if let Some(secs) = &mut self.seconds {
            secs.entry(sec).or_default().merge(&b);
            if span(secs) > MAX_SECOND_SPAN {
                self.seconds = None;
            }
        }
        match &mut self.pending_coarse {
            Some((start, c)) if *start == bucket_start(sec, self.width) => c.merge(&b),
            _ => {
                // Its start taken again: adding the pending bucket may have widened them.
                self.add_coarse();
                self.pending_coarse = Some((bucket_start(sec, self.width), b));
            }
        }
    }

    /// Adds the pending coarse bucket to the map.
    fn add_coarse(&mut self) {
        let Some((start, c)) = self.pending_coarse.take() else {
            return;
        };
        self.coarse.entry(start).or_default().merge(&c);
        if self.coarse.len() > MAX_COARSE_BUCKETS {
            self.widen(self.width * 2);
        }
    }

    fn widen(&mut self, width: i64) {
        while self.width < width {
            self.width *= 2;
        }
        let coarse = std::mem::take(&mut self.coarse);
        self.coarse = rebucket(coarse, self.width);
    }

    pub fn merge(&mut self, mut o: Timeline) {
        self.settle();
        o.settle();
        if o.width > self.width {
            self.widen(o.width);
        } else if self.width > o.width {
            o.widen(self.width);
        }
        for (k, b) in &o.coarse {
            self.coarse.entry(*k).or_default().merge(b);
        }
        if self.coarse.len() > MAX_COARSE_BUCKETS {
            self.widen(self.width * 2);
        }
        self.seconds = match (self.seconds.take(), o.seconds) {
            (Some(mut a), Some(b)) => {
                for (k, v) in &b {
                    a.entry(*k).or_default().merge(v);
                }
                (span(&a) <= MAX_SECOND_SPAN).then_some(a)
            }
            _ => None,
        };
        self.untimed.merge(&o.untimed);
    }

    /// At most `max_points` buckets, gaps filled: per second when the input spans at most ten
    /// minutes, else the coarse buckets, merged into wider ones until they fit.
    /// Returns (bucket width in seconds, [(start, bucket)]).
    pub fn series(&self, max_points: usize) -> (i64, Vec<(i64, Bucket)>) {
        debug_assert!(
            self.pending.is_none() && self.pending_coarse.is_none(),
            "settle() before reading"
        );
        let max_points = max_points.max(1) as i64;
        let (base, map) = match &self.seconds {
            Some(s) if span(s) <= 600 => (1, s),
            _ => (self.width, &self.coarse),
        };
        let (Some(&first), Some(&last)) = (map.keys().next(), map.keys().next_back()) else {
            return (base, Vec::new());
        };
        let slots = (last - first) / base + 1;
        let factor = (slots + max_points - 1) / max_points;
        let width = base * factor.max(1);
        let start = first;
        let n = ((last - start) / width + 1) as usize;
        let mut out: Vec<(i64, Bucket)> = (0..n)
            .map(|k| (start + k as i64 * width, Bucket::default()))
            .collect();
        for (t, b) in map {
            out[((t - start) / width) as usize].1.merge(b);
        }
        (width, out)
    }
}

/// Per-second buckets are kept while the input spans at most this many seconds.
const MAX_SECOND_SPAN: i64 = 3600;

fn span(m: &BTreeMap<i64, Bucket>) -> i64 {
    match (m.keys().next(), m.keys().next_back()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_at_most_takes_whole_buckets_starting_at_or_below() {
        let mut h = Histogram::default();
        for us in [0, 5, 999_999, 1_000_000, 1_040_000, 2_000_000, 60_000_000] {
            h.add(us);
        }
        assert_eq!(h.count_at_most(0), 1);
        assert_eq!(h.count_at_most(4), 1);
        // 1 s and 1.04 s share a bucket that starts at 0.983 s: one bucket's width above.
        assert_eq!(h.count_at_most(1_000_000), 5);
        assert_eq!(h.count_at_most(2_500_000), 6);
        assert_eq!(h.count_at_most(u64::MAX), 7);
        assert_eq!(h.sum(), 65_040_004);
    }

    #[test]
    fn routes_collapse_ids() {
        assert_eq!(route_of("/api/reports/42/"), "/api/reports/{id}/");
        assert_eq!(
            route_of("/u/3d2c1cc8-fae4-11e7-93eb-0a580a040321/checks"),
            "/u/{id}/checks"
        );
        assert_eq!(route_of("/login/"), "/login/");
        assert_eq!(route_of("/static/app.css"), "/static/app.css");
        assert_eq!(route_of("/a/deadbeefcafe1/"), "/a/{id}/");
        assert_eq!(route_of("/v1/x?y=1"), "/v1/x");
    }

    /// A slow request's record, for the tests that only count.
    fn slow() -> Slow {
        Slow {
            method: "GET".into(),
            path: "/".into(),
            seconds: 0.0,
            started: String::new(),
            status: None,
            file: "t.log".into(),
            line: 1,
        }
    }

    /// `n` requests of `GET /r{from}x/` .. `GET /r{from + n - 1}x/` (a letter in each segment: ids
    /// would collapse into one route), each of 1 ms.
    fn routes(from: usize, n: usize) -> Latency {
        let mut l = Latency::default();
        for k in from..from + n {
            let path = format!("/r{k}x/");
            l.add(
                ("GET", path.as_bytes(), k as u64),
                1000,
                Precision::Seconds,
                slow,
            );
        }
        l
    }

    #[test]
    fn routes_past_the_cap_are_counted_together_added_or_merged() {
        let l = routes(0, MAX_ROUTES + 5);
        assert_eq!(l.routes.len(), MAX_ROUTES + 1);
        assert_eq!(l.route(OTHER_ROUTES).map(Histogram::count), Some(5));
        assert_eq!(l.route("GET /r0x/").map(Histogram::count), Some(1));
        assert!(l.route(&format!("GET /r{MAX_ROUTES}x/")).is_none());
        // A route already kept still takes its requests once the cap is reached.
        let mut l = l;
        l.add(("GET", b"/r0x/", 0), 1000, Precision::Seconds, slow);
        assert_eq!(l.route("GET /r0x/").map(Histogram::count), Some(2));

        // Merged: the other side's routes in key order, while there is room.
        let mut a = routes(0, MAX_ROUTES - 2);
        a.merge(routes(MAX_ROUTES - 4, 10));
        assert_eq!(a.routes.len(), MAX_ROUTES + 1);
        let twice = format!("GET /r{}x/", MAX_ROUTES - 3);
        assert_eq!(a.route(&twice).map(Histogram::count), Some(2));
        let total: u64 = a.routes.iter().map(|(_, h)| h.count()).sum();
        assert_eq!(total, (MAX_ROUTES - 2 + 10) as u64);
        assert_eq!(a.route(OTHER_ROUTES).map(Histogram::count), Some(6));
    }

    #[test]
    fn route_keys_are_remembered_per_pair_not_per_hash() {
        let mut l = Latency::default();
        l.add(("GET", b"/a/1/", 7), 1000, Precision::SubSecond, slow);
        // The same hash for another pair (a collision) must not borrow the first one's route.
        l.add(("GET", b"/b/", 7), 1000, Precision::SubSecond, slow);
        l.add(("GET", b"/a/2/", 8), 1000, Precision::SubSecond, slow);
        l.add(("GET", b"/a/1/", 7), 1000, Precision::SubSecond, slow);
        // More pairs than are remembered: still counted under their routes.
        for k in 0..(MAX_KEYS as u64 + 10) {
            l.add(
                ("POST", format!("/x/{k}/").as_bytes(), 100 + k),
                10,
                Precision::Seconds,
                slow,
            );
        }
        let count = |k: &str| l.route(k).map_or(0, Histogram::count);
        assert_eq!(count("GET /a/{id}/"), 3);
        assert_eq!(count("GET /b/"), 1);
        assert_eq!(count("POST /x/{id}/"), MAX_KEYS as u64 + 10);
        assert_eq!(l.measured, 3 + 1 + MAX_KEYS as u64 + 10);
    }

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut prev = 0;
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1000,
            123_456,
            10_000_000,
            u64::MAX / 2,
        ] {
            let b = bucket_of(v);
            assert!(b >= prev, "{v}");
            prev = b;
            let top = bucket_top(b);
            assert!(top >= v, "{v} top {top}");
            assert!(top as f64 <= (v as f64) * 1.13 + 1.0, "{v} top {top}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.add(v * 1000);
        }
        let p50 = h.quantile(0.5);
        assert!((500_000..=565_000).contains(&p50), "{p50}");
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);
        let mut g = Histogram::default();
        g.merge(&h);
        assert_eq!(g.quantile(0.99), h.quantile(0.99));
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }

    #[test]
    fn timeline_series_fills_gaps() {
        let mut t = Timeline::default();
        t.at(Some(Ts(10_000_000)), |b| b.external += 1);
        t.at(Some(Ts(13_500_000)), |b| b.external += 2);
        t.at(Some(Ts(13_900_000)), |b| b.probe += 1);
        t.settle();
        let (w, s) = t.series(1440);
        assert_eq!(w, 1);
        assert_eq!(s.len(), 4);
        assert_eq!((s[3].1.external, s[3].1.probe), (2, 1));
        let mut long = Timeline::default();
        long.at(Some(Ts(0)), |b| b.probe += 1);
        long.at(Some(Ts(3_600_000_000)), |b| b.probe += 1);
        long.settle();
        let (w, s) = long.series(1440);
        assert_eq!(w, 60);
        assert_eq!(s.len(), 61);
        let (w, s) = long.series(10);
        assert_eq!((w, s.len()), (420, 9));
        assert_eq!(s.iter().map(|b| b.1.probe).sum::<u64>(), 2);
    }

    #[test]
    fn coarse_buckets_are_as_if_each_second_went_in() {
        // Seconds mostly in order, some back in time, gaps of up to a few minutes: enough
        // minutes to widen the buckets twice.
        let mut t = Timeline::default();
        let (mut model, mut width) = (BTreeMap::<i64, Bucket>::new(), 60);
        let (mut sec, mut x) = (0i64, 7u64);
        for k in 0..150_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            sec += match x >> 60 {
                0 => -((x >> 40) as i64 % 300),
                1..=9 => 0,
                _ => ((x >> 40) as i64 % 300) + 1,
            };
            t.at(Some(Ts(sec * 1_000_000)), |b| b.external += k % 3);
            let one = Bucket {
                external: k % 3,
                ..Bucket::default()
            };
            model
                .entry(sec.div_euclid(width) * width)
                .or_default()
                .merge(&one);
            if model.len() > MAX_COARSE_BUCKETS {
                width *= 2;
                model = rebucket(model, width);
            }
        }
        t.settle();
        assert!(width > 120, "widened twice: {width}");
        assert_eq!(t.width, width);
        assert_eq!(t.coarse, model);
    }

    #[test]
    fn centuries_apart_stay_small() {
        let mut t = Timeline::default();
        t.at(Some(Ts(-45_000_000_000_000_000)), |b| b.probe += 1);
        t.at(Some(Ts(1_764_300_000_000_000)), |b| b.probe += 1);
        t.settle();
        let (_, s) = t.series(1440);
        assert!(s.len() <= 1440);
        assert_eq!(s.iter().map(|b| b.1.probe).sum::<u64>(), 2);
        let mut many = Timeline::default();
        for k in 0..(MAX_COARSE_BUCKETS as i64 * 3) {
            many.at(Some(Ts(k * 60_000_000)), |b| b.external += 1);
        }
        many.settle();
        assert!(many.coarse.len() <= MAX_COARSE_BUCKETS);
        assert_eq!(
            many.coarse.values().map(|b| b.external).sum::<u64>(),
            MAX_COARSE_BUCKETS as u64 * 3
        );
    }
}
