//! Progress of long operations on stderr (stdout stays for results): on a terminal one line
//! rewritten in place a few times a second, otherwise (a log, CI) a plain line every ten
//! seconds.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress line.
pub(crate) struct Progress {
    tty: bool,
    every: Duration,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    pub(crate) fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        Progress {
            tty,
            every: if tty {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(10)
            },
            last: Some(Instant::now()),
            shown: false,
        }
    }

    /// Shows the message `message` makes, when the last one was shown long enough ago.
    pub(crate) fn show(&mut self, message: impl FnOnce() -> String) {
        if self.last.is_some_and(|at| at.elapsed() < self.every) {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        if self.tty {
            eprint!("\r\x1b[2K{}", message());
        } else {
            eprintln!("{}", message());
        }
    }

    /// Clears the line on a terminal.
    pub(crate) fn done(&mut self) {
        if self.tty && self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Shows how far a timed run is (warm-up until `measure_from`, then measuring until
/// `end`) until [`Ticker::stop`].
pub(crate) fn timed(measure_from: tokio::time::Instant, end: tokio::time::Instant) -> Ticker {
    Ticker(tokio::spawn(async move {
        let mut progress = Progress::new();
        let total = end.saturating_duration_since(measure_from).as_secs_f64();
        loop {
            let now = tokio::time::Instant::now();
            progress.show(|| {
                if now < measure_from {
                    format!(
                        "warming up: {:.0} s to go",
                        (measure_from - now).as_secs_f64()
                    )
                } else {
                    let done = (now - measure_from).as_secs_f64().min(total);
                    format!("measuring: {done:.0} of {total:.0} s")
                }
            });
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }))
}

/// The task showing a timed run's progress.
pub(crate) struct Ticker(tokio::task::JoinHandle<()>);

impl Ticker {
    /// Stops showing, and clears the line on a terminal.
    pub(crate) fn stop(self) {
        self.0.abort();
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[2K");
        }
    }
}
