//! A progress bar on stderr while a long input is read, so a minute over a big log is not a
//! silent minute. Drawn only on a terminal, and only for inputs over [`THRESHOLD`] bytes;
//! never in a pipe, a redirect or `-q`, and never on stdout, where the report goes.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::input::Progress;

/// Inputs smaller than this are read too fast to need a bar.
pub const THRESHOLD: u64 = 100 << 20;

/// The bar, when one may be drawn at all.
pub struct Bar {
    bar: Option<ProgressBar>,
    /// The inputs are known to be small.
    small: AtomicBool,
}

impl Bar {
    /// `enabled`: stderr is a terminal and nobody asked for quiet.
    pub fn new(enabled: bool) -> Bar {
        let bar =
            enabled.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()));
        Bar {
            bar,
            small: AtomicBool::new(false),
        }
    }
}

impl Progress for Bar {
    fn start(&self, total: Option<u64>) {
        let Some(bar) = &self.bar else { return };
        // A pipe's size is not known: the bar appears once THRESHOLD bytes went by.
        if total.is_some_and(|t| t < THRESHOLD) {
            self.small.store(true, Ordering::Relaxed);
            return;
        }
        let style = match total {
            Some(t) => {
                bar.set_length(t);
                "{spinner} reading {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec}, {eta} left"
            }
            None => "{spinner} reading {bytes} ({bytes_per_sec})",
        };
        if let Ok(style) = ProgressStyle::with_template(style) {
            bar.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        if self.small.load(Ordering::Relaxed) {
            return;
        }
        bar.inc(bytes);
        if bar.is_hidden() && bar.position() >= THRESHOLD {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_shows_only_for_big_inputs_and_only_when_asked() {
        // Not asked (a pipe, -q, --follow): nothing at all.
        let off = Bar::new(false);
        off.start(Some(10 * THRESHOLD));
        off.advance(10 * THRESHOLD);
        off.finish();
        assert!(off.bar.is_none());
        // Known to be small: stays hidden however far it goes (a file growing meanwhile).
        let small = Bar::new(true);
        small.start(Some(THRESHOLD / 2));
        small.advance(2 * THRESHOLD);
        let bar = small.bar.as_ref().unwrap();
        assert!(bar.is_hidden());
        assert_eq!(bar.position(), 0, "not even counted");
        // Big or of unknown size: counted from the start.
        let big = Bar::new(true);
        big.start(None);
        big.advance(THRESHOLD / 4);
        assert_eq!(big.bar.as_ref().unwrap().position(), THRESHOLD / 4);
        big.finish();
    }
}
