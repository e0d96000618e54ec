//! A progress bar on stderr while a long input is read, so a minute over a big log is not a
//! silent minute. Drawn only on a terminal, and only for inputs over [`THRESHOLD`] bytes;
//! never in a pipe, a redirect or `-q`, and never on stdout, where the report goes.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::app::Progress;

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
