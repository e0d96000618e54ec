//! Request counters per class and per status code, kept in flat arrays while a stream runs
//! and added to the analysis's maps when it ends: two ordered-map lookups per request were ~4%
//! of correlating.

use std::collections::BTreeMap;

use super::{Analysis, Cause, Class, ClassStats};

/// The per-class and per-status counters of one running stream.
#[derive(Clone)]
pub(super) struct Tally {
    by_class: [ClassStats; 3],
    /// Codes below 600; any other goes to the analysis's map at once.
    status: Box<[u64; 600]>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            by_class: Default::default(),
            status: Box::new([0; 600]),
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

    /// A request of `class` answered with `status` (None: no line says which).
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

    /// Adds the counters to the analysis's maps (a class or status is listed once anything
    /// counted it) and starts again from zero.
    pub(super) fn settle(&mut self, out: &mut Analysis) {
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
