//! Request counters per class, per status code and per accepted Host, kept in flat arrays (the
//! hosts in a list found by their bytes) while a stream runs and added to the analysis's maps
//! when it ends: two ordered-map lookups per request were ~4% of correlating, and a Host's
//! text and its ordered-map lookup ~1%.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::records::lossy_cow;
use super::{Analysis, Cause, Class, ClassStats, MAX_HOSTS};

/// The per-class, per-status and per-Host counters of one running stream.
#[derive(Clone)]
pub(super) struct Tally {
    by_class: [ClassStats; 3],
    /// Codes below 600; any other goes to the analysis's map at once.
    status: Box<[u64; 600]>,
    accepted: AcceptedHosts,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            by_class: Default::default(),
            status: Box::new([0; 600]),
            accepted: AcceptedHosts::default(),
        }
    }
}

/// Requests the app accepted, per Host: the first [`MAX_HOSTS`] hosts (as text, invalid UTF-8
/// replaced) in the order they came, as the analysis lists them. A Host is found by its bytes,
/// which for valid UTF-8 (nearly every Host) are its text: no text is made for it.
#[derive(Clone, Default)]
struct AcceptedHosts {
    listed: Vec<(String, u64)>,
    /// Where each listed host's text is in `listed`, by its bytes.
    by_text: FxHashMap<Box<[u8]>, usize>,
    /// Where the last host counted is in `listed`: most requests have the Host of the one
    /// before, and a compare costs less than hashing.
    last: usize,
}

impl AcceptedHosts {
    fn count(&mut self, host: &[u8]) {
        if let Some((text, n)) = self.listed.get_mut(self.last) {
            if text.as_bytes() == host {
                *n += 1;
                return;
            }
        }
        if let Some(&k) = self.by_text.get(host) {
            self.listed[k].1 += 1;
            self.last = k;
            return;
        }
        // Not listed by its bytes: valid UTF-8 is not listed at all, and other bytes may read
        // as a listed text. Its text is made only to be listed (not for every request of a
        // flood of hosts past the cap).
        let text = lossy_cow(host);
        let listed = match &text {
            Cow::Borrowed(_) => None,
            Cow::Owned(t) => self.by_text.get(t.as_bytes()).copied(),
        };
        if let Some(k) = listed {
            self.listed[k].1 += 1;
        } else if self.listed.len() < MAX_HOSTS {
            self.last = self.listed.len();
            self.by_text.insert(text.as_bytes().into(), self.last);
            self.listed.push((text.into_owned(), 1));
        }
    }

    /// Adds the counts to `hosts` (a stream's, which had none counted apart from these), in
    /// the order the hosts came, and starts again from none.
    fn settle(&mut self, hosts: &mut BTreeMap<String, u64>) {
        self.by_text.clear();
        self.last = 0;
        for (host, n) in self.listed.drain(..) {
            if let Some(m) = hosts.get_mut(&host) {
                *m += n;
            } else if hosts.len() < MAX_HOSTS {
                hosts.insert(host, n);
            }
        }
    }
}

impl Tally {
    pub(super) fn class(&mut self, class: Class) -> &mut ClassStats {
        &mut self.by_class[class as usize]
    }

    /// One response with `status`; `overflow` takes codes the array has no slot for.
    pub(super) fn status_code(&mut self, status: u16, overflow: &mut BTreeMap<u16, u64>) {
        match self.status.get_mut(usize::from(status)) {
            Some(n) => *n += 1,
            None => *overflow.entry(status).or_default() += 1,
        }
    }

    /// A request of `class` never answered, for `cause` (a stop's cut counted apart).
    pub(super) fn orphaned(&mut self, class: Class, cause: Cause) {
        let s = self.class(class);
        s.orphaned += 1;
        s.cut_by_shutdown += u64::from(cause == Cause::Shutdown);
    }

    /// A request of `class` answered with `status` (None: no line says which). Inlined: every
    /// request comes here (thin LTO made it a call in some builds).
    #[inline]
    pub(super) fn answered(
        &mut self,
        class: Class,
        status: Option<u16>,
        host_rejected: bool,
        overflow: &mut BTreeMap<u16, u64>,
    ) {
        let s = self.class(class);
        match status {
            Some(st) if st < 400 => s.ok += 1,
            Some(st) if st < 500 => {
                s.client_error += 1;
                if host_rejected {
                    s.host_rejected += 1;
                }
            }
            Some(_) => s.server_error += 1,
            None => s.unknown_status += 1,
        }
        if let Some(st) = status {
            self.status_code(st, overflow);
        }
    }

    /// One more request the app accepted with Host `host` (as logged).
    pub(super) fn accepted(&mut self, host: &[u8]) {
        self.accepted.count(host);
    }

    /// Adds the accepted hosts to the analysis's (before any other request is counted there,
    /// so that the first hosts listed stay the first that came) and starts them from none.
    pub(super) fn settle_hosts(&mut self, out: &mut Analysis) {
        self.accepted.settle(&mut out.hosts.accepted);
    }

    /// Adds the counters to the analysis's maps (a class or status is listed once anything
    /// counted it) and starts again from zero.
    pub(super) fn settle(&mut self, out: &mut Analysis) {
        self.settle_hosts(out);
        for class in [Class::Probe, Class::Health, Class::External] {
            let s = std::mem::take(self.class(class));
            if s != ClassStats::default() {
                out.traffic.by_class.entry(class).or_default().merge(&s);
            }
        }
        for (code, n) in self.status.iter_mut().enumerate() {
            if *n > 0 {
                let code = u16::try_from(code).expect("below 600");
                *out.traffic.status.entry(code).or_default() += std::mem::take(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::hosts::count_accepted;

    /// Hosts as scanners and proxies send them: repeats, runs, invalid UTF-8 that reads the
    /// same as other bytes (and as valid text), more distinct ones than are listed.
    fn hosts() -> Vec<Vec<u8>> {
        let mut hosts = Vec::new();
        for k in 0..3 * MAX_HOSTS {
            hosts.push(b"app.example.com".to_vec());
            hosts.push(format!("h{}.example", k * 7 % (MAX_HOSTS + 40)).into_bytes());
            if k % 3 == 0 {
                hosts.push(b"app.example.com".to_vec());
            }
            match k % 5 {
                0 => hosts.push(b"\xffbad".to_vec()),
                1 => hosts.push(b"\xfebad".to_vec()),
                2 => hosts.push("\u{fffd}bad".as_bytes().to_vec()),
                _ => {}
            }
        }
        hosts
    }

    #[test]
    fn accepted_hosts_settle_as_if_counted_one_by_one() {
        let mut expected = BTreeMap::new();
        let mut tally = Tally::default();
        for h in hosts() {
            count_accepted(&mut expected, lossy_cow(&h));
            tally.accepted(&h);
        }
        let mut out = Analysis::default();
        tally.settle(&mut out);
        assert_eq!(out.hosts.accepted.len(), MAX_HOSTS);
        assert!(out.hosts.accepted["\u{fffd}bad"] > 0);
        assert_eq!(out.hosts.accepted, expected);
        // Settled, it starts again from none.
        let mut again = Analysis::default();
        tally.settle(&mut again);
        assert!(again.hosts.accepted.is_empty());
    }
}
