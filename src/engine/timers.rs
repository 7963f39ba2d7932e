//! The timer loop: fires the timeouts of processes when they fall due.
//!
//! On start it fires every timer that is already due (timeouts that fell due while the node
//! was down); then it sleeps until the earliest pending timer or for at most `interval`,
//! whichever comes first, and wakes early when a commit sets an earlier timer
//! ([`TimerWake`]). Firing goes through [`Engine::fire_timers`], the one write path, a
//! thousand timers at a time.

use super::core::Engine;
use crate::process::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Wakes the timer loop when a commit sets a timer earlier than the loop plans to wake up.
#[derive(Debug)]
pub struct TimerWake {
    /// When the loop plans to look next, in Unix milliseconds.
    planned: AtomicI64,
    notify: Notify,
}

impl Default for TimerWake {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerWake {
    /// No loop planned yet: nothing wakes until [`TimerWake::plan`] is called.
    pub fn new() -> Self {
        TimerWake {
            planned: AtomicI64::new(i64::MIN),
            notify: Notify::new(),
        }
    }

    /// A commit set a timer at `at`: wake the loop if it would look later than that.
    pub fn scheduled(&self, at: Timestamp) {
        if at.millis() < self.planned.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// The loop will look again at `at` (unless woken earlier).
    pub fn plan(&self, at: Timestamp) {
        self.planned.store(at.millis(), Ordering::SeqCst);
    }

    /// Waits for a wake-up. A wake-up that came while nobody waited is kept (one), so none
    /// is lost between planning and waiting.
    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

/// Timers fired in one go; between two batches the loop reports progress and looks for
/// shutdown, so that thousands of timers due after a long downtime hold up neither.
const BATCH: usize = 1000;

/// The current time, to the millisecond as events record it (the node reads the clock; the
/// core never does).
pub fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// Fires the timers due at `start`, [`BATCH`] at a time (stopping early on shutdown), and
/// returns the earliest pending timer afterwards.
async fn fire_due(
    engine: &Arc<Engine>,
    start: Timestamp,
    shutdown: &watch::Receiver<bool>,
) -> Result<Result<Option<(Timestamp, String)>, super::EngineError>, tokio::task::JoinError> {
    let worker = engine.clone();
    let due = match tokio::task::spawn_blocking(move || worker.store().due_timers(start)).await? {
        Ok(due) => due,
        Err(e) => return Ok(Err(e.into())),
    };
    let mut fired = 0;
    for batch in due.chunks(BATCH) {
        if *shutdown.borrow() {
            break;
        }
        let (worker, batch) = (engine.clone(), batch.to_vec());
        let moved = tokio::task::spawn_blocking(move || worker.fire_timers(&batch)).await?;
        fired += moved.len();
        tracing::debug!(processes = ?moved, "fired due timers");
        if due.len() > BATCH {
            tracing::info!(fired, due = due.len(), "firing due timers");
        }
    }
    if fired > 0 {
        tracing::info!(count = fired, "fired due timers");
    }
    let worker = engine.clone();
    Ok(
        tokio::task::spawn_blocking(move || worker.store().next_timer())
            .await?
            .map_err(Into::into),
    )
}

/// Runs the timer loop until `shutdown` turns true (or its sender is dropped). A timer
/// being fired when shutdown comes is finished first.
pub async fn run(engine: Arc<Engine>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let wake = engine.timer_wake().clone();
    let interval_ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let start = now();
        let horizon = Timestamp::from_millis(start.millis().saturating_add(interval_ms));
        // Plan the longest wait first: a commit from here on that sets an earlier timer
        // wakes us (see `TimerWake`).
        wake.plan(horizon);
        let fired = fire_due(&engine, start, &shutdown).await;
        let next = match fired {
            Ok(Ok(next)) => next.map(|(at, _)| at),
            Ok(Err(error)) => {
                tracing::error!(%error, "the timer loop cannot read the timers");
                None
            }
            Err(error) => {
                tracing::error!(%error, "the timer loop task failed");
                None
            }
        };
        // A timer still due now could not be fired (logged above): wait the interval
        // rather than retry at once.
        let until = match next {
            Some(at) if at > start && at < horizon => at,
            _ => horizon,
        };
        wake.plan(until);
        let wait = Duration::from_millis(
            u64::try_from(until.millis().saturating_sub(now().millis())).unwrap_or(0),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.woken() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::GroupCommit;
    use crate::scenario::yaml::from_yaml;
    use crate::schema::SchemaRegistry;
    use crate::store::MemoryStore;
    use serde_json::Map;
    use std::time::Instant;

    const TIMED: &str = r#"
actors:
  user: {}
actions:
  go:
    actor: user
states:
  initial:
    on: go
    goto: waiting
  waiting:
    transitions:
      - after: 1
        goto: (done)
"#;

    fn engine() -> (Arc<Engine>, String) {
        let store = Arc::new(MemoryStore::new());
        let engine =
            Engine::with_group_commit(store, SchemaRegistry::new(), GroupCommit::default())
                .expect("engine");
        let raw = from_yaml(TIMED).expect("yaml");
        let (id, _) = engine.add_scenario(&raw, now()).expect("scenario");
        (Arc::new(engine), id)
    }

    /// Starts a process and moves it into the timed state (its timer is due in a second).
    fn start_waiting(engine: &Engine, scenario: &str, id: &str) {
        engine
            .start(scenario, id, Map::new(), now())
            .expect("start");
        let user = crate::process::StepActor::key("user");
        engine.step(id, "go", &user, None, now()).expect("step");
    }

    async fn wait_done(engine: &Engine, id: &str, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if engine.process(id).expect("process").current_key() == "(done)" {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn sleeps_until_the_next_timer_not_the_interval() {
        let (engine, scenario) = engine();
        start_waiting(&engine, &scenario, "p1");
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run(engine.clone(), Duration::from_secs(60), shutdown));
        assert!(wait_done(&engine, "p1", Duration::from_secs(5)).await);
        stop.send(true).expect("stop");
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the loop stops on shutdown")
            .expect("task");
    }

    #[tokio::test]
    async fn many_due_timers_fire_in_batches() {
        let (engine, scenario) = engine();
        let count = 2 * BATCH + 50;
        for n in 0..count {
            start_waiting(&engine, &scenario, &format!("p{n}"));
        }
        // All due a second later; the loop fires them in three batches.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run(engine.clone(), Duration::from_secs(60), shutdown));
        for n in [0, BATCH, count - 1] {
            assert!(
                wait_done(&engine, &format!("p{n}"), Duration::from_secs(30)).await,
                "p{n}"
            );
        }
        assert_eq!(engine.store().next_timer().expect("next"), None);
        stop.send(true).expect("stop");
        task.await.expect("task");
    }

    #[tokio::test]
    async fn an_earlier_timer_wakes_the_loop() {
        let (engine, scenario) = engine();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run(engine.clone(), Duration::from_secs(60), shutdown));
        // The loop has nothing to do and plans to look again in a minute.
        tokio::time::sleep(Duration::from_millis(200)).await;
        start_waiting(&engine, &scenario, "p2");
        assert!(wait_done(&engine, "p2", Duration::from_secs(5)).await);
        drop(stop);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the loop stops when the shutdown sender is gone")
            .expect("task");
    }
}
