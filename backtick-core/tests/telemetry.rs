//! The runner's metrics and its `backtick.job` span, on the in-memory store, each test with
//! a recorder (and a subscriber) of its own on a current-thread runtime, so tests running
//! in parallel do not see each other's metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backtick_core::telemetry::{
    CLAIM_BATCH_SIZE, CLAIM_DURATION, COMPLETIONS_FENCED, JOB_DURATION, JOB_WAIT, JOBS_ENQUEUED, JOBS_FINISHED,
    JOBS_REVIVED, JOBS_RUNNING, RUNNER_SLOTS_FREE,
};
use backtick_core::{
    JobContext, JobError, JobState, ManualClock, NewJob, QueueStore, RetryPolicy, Runner, RunnerConfig, Timestamp,
    WorkerOptions, maintenance::Reviver, worker_fn,
};
use backtick_testkit::MemoryStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn fast_config() -> RunnerConfig {
    RunnerConfig {
        poll_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(5),
        revive_interval: Duration::from_secs(1),
        shutdown_timeout: Duration::from_secs(5),
        retry_policy: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(10),
            jitter: 0.0,
        },
        ..RunnerConfig::default()
    }
}

/// Every metric of a snapshot: name, labels, value. A snapshot drains the recorder (counters
/// and gauges back to zero, histograms emptied): a later one shows only what came after.
type Metrics = Vec<(String, Vec<(String, String)>, DebugValue)>;

/// Also prints each metric with its value (seen with `--nocapture`: example values of every
/// metric from a run).
fn read(snapshotter: &Snapshotter) -> Metrics {
    let metrics: Metrics = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    for (name, labels, value) in &metrics {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let value = match value {
            DebugValue::Counter(n) => n.to_string(),
            DebugValue::Gauge(v) => v.to_string(),
            DebugValue::Histogram(values) => {
                let values: Vec<f64> = values.iter().map(|v| v.into_inner()).collect();
                let sum: f64 = values.iter().sum();
                format!("count={} sum={sum:.6}", values.len())
            }
        };
        println!("metric {name}{{{}}} {value}", labels.join(","));
    }
    metrics
}

/// The value of `name` whose labels include `labels`; panics when there is not exactly one.
fn value<'a>(metrics: &'a Metrics, name: &str, labels: &[(&str, &str)]) -> &'a DebugValue {
    let found: Vec<_> = metrics
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?} in {metrics:#?}");
    &found[0].2
}

fn counter(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(metrics, name, labels) {
        DebugValue::Counter(n) => *n,
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

fn gauge(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    match value(metrics, name, labels) {
        DebugValue::Gauge(v) => v.into_inner(),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn histogram(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    match value(metrics, name, labels) {
        DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

fn job(mode: &str, max_attempts: i32) -> NewJob {
    let mut job = NewJob::new("outcomes", &mode.to_owned()).expect("encode");
    job.queue = "metered".into();
    job.max_attempts = max_attempts;
    job
}

/// A worker that ends each job the way its argument says.
fn outcomes_worker(snoozed_once: Arc<AtomicBool>) -> impl backtick_core::Worker {
    worker_fn("outcomes", move |_: JobContext, mode: String| {
        let snoozed_once = snoozed_once.clone();
        async move {
            match mode.as_str() {
                "ok" => Ok(()),
                "retry" => Err(JobError::retry("always fails")),
                "snooze" if !snoozed_once.swap(true, Ordering::SeqCst) => {
                    Err(JobError::snooze(Duration::from_millis(1)))
                }
                "snooze" => Ok(()),
                "discard" => Err(JobError::discard("hopeless")),
                "cancel" => Err(JobError::cancel("not wanted")),
                "timeout" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(())
                }
                "panic" => panic!("worker panicked on purpose"),
                other => Err(JobError::discard(format!("unknown mode {other}"))),
            }
        }
    })
    .with_options(WorkerOptions {
        timeout: Some(Duration::from_millis(100)),
        ..WorkerOptions::default()
    })
}

async fn wait_for_finished(store: &MemoryStore, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let counts = store.count_by_state(None).await.expect("count");
        let finished = counts.get(JobState::Done) + counts.get(JobState::Dead) + counts.get(JobState::Cancelled);
        if finished == n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {counts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Run the outcomes worker at `concurrency` on `store` until `n` jobs of `memory` (the store
/// under it) are finished, then shut down.
async fn run_until_finished(store: Arc<dyn QueueStore>, memory: &MemoryStore, concurrency: usize, n: u64) {
    let runner = Runner::builder(store)
        .config(fast_config())
        .concurrency(concurrency)
        .worker(outcomes_worker(Arc::default()))
        .build()
        .expect("build")
        .start();
    wait_for_finished(memory, n).await;
    runner.shutdown().await;
}

#[tokio::test]
async fn every_outcome_moves_its_counter_and_every_run_its_histograms() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = MemoryStore::new();
    let modes = [
        ("ok", 3),
        ("retry", 2),
        ("snooze", 3),
        ("discard", 3),
        ("cancel", 3),
        ("timeout", 1),
        ("panic", 1),
    ];
    store
        .enqueue_many(modes.iter().map(|(mode, max)| job(mode, *max)).collect(), None)
        .await
        .expect("enqueue");
    run_until_finished(Arc::new(store.clone()), &store, 4, modes.len() as u64).await;

    let metrics = read(&snapshotter);
    let labels = [("queue", "metered"), ("worker", "outcomes")];
    assert_eq!(counter(&metrics, JOBS_ENQUEUED, &labels), 7);
    let finished = |outcome| counter(&metrics, JOBS_FINISHED, &[labels[0], labels[1], ("outcome", outcome)]);
    // ok and the snoozed job's second run; the retried job's first run; its second run and the discard.
    assert_eq!(finished("completed"), 2);
    assert_eq!(finished("retried"), 1);
    assert_eq!(finished("snoozed"), 1);
    assert_eq!(finished("dead"), 2);
    assert_eq!(finished("cancelled"), 1);
    assert_eq!(finished("timed_out"), 1);
    assert_eq!(finished("panicked"), 1);
    let durations = histogram(&metrics, JOB_DURATION, &labels);
    assert_eq!(durations.len(), 9, "one per run: {durations:?}");
    assert!(
        durations.iter().any(|d| *d >= 0.1),
        "the timed-out run took its timeout: {durations:?}"
    );
    let waits = histogram(&metrics, JOB_WAIT, &labels);
    assert_eq!(waits.len(), 9, "{waits:?}");
    assert!(waits.iter().all(|w| *w >= 0.0));
    let batches = histogram(&metrics, CLAIM_BATCH_SIZE, &[]);
    assert_eq!(
        batches.iter().sum::<f64>(),
        9.0,
        "every run was claimed once: {batches:?}"
    );
    assert_eq!(histogram(&metrics, CLAIM_DURATION, &[]).len(), batches.len());
    assert_eq!(gauge(&metrics, JOBS_RUNNING, &labels), 0.0);
    assert_eq!(
        gauge(&metrics, RUNNER_SLOTS_FREE, &[]),
        0.0,
        "a stopped runner has no slots"
    );
    for (name, labels, _) in &metrics {
        assert!(name.starts_with("backtick_"), "{name}");
        assert!(
            labels
                .iter()
                .all(|(k, _)| ["queue", "worker", "outcome", "transient"].contains(&k.as_str())),
            "{name} {labels:?}"
        );
    }
}

#[tokio::test]
async fn a_revived_job_and_its_refused_stale_completion_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let start: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let clock = ManualClock::new(start);
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("stuck", &()).expect("encode"), Some(start))
        .await
        .expect("enqueue");
    let (release, started) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (gate, signal) = (release.clone(), started.clone());
    let config = RunnerConfig {
        lease_ttl: Duration::from_secs(7200),
        heartbeat_interval: Duration::from_secs(3600),
        revive_interval: Duration::from_secs(3600),
        ..fast_config()
    };
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(config)
        .concurrency(3)
        .clock(clock.clone())
        .worker(worker_fn("stuck", move |_: JobContext, (): ()| {
            let (gate, signal) = (gate.clone(), signal.clone());
            async move {
                signal.notify_one();
                gate.notified().await;
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    started.notified().await;
    let during = read(&snapshotter);
    let labels = [("queue", "default"), ("worker", "stuck")];
    assert_eq!(gauge(&during, JOBS_RUNNING, &labels), 1.0);
    assert_eq!(gauge(&during, RUNNER_SLOTS_FREE, &[]), 2.0);
    assert_eq!(counter(&during, JOBS_ENQUEUED, &labels), 1);
    clock.advance(Duration::from_secs(7201));
    let report = Reviver::new(Arc::new(store.clone()), Arc::new(clock.clone()))
        .run_once(Some(clock.get()))
        .await
        .expect("revive");
    assert_eq!(report.requeued, 1);
    started.notified().await; // the second claim runs
    release.notify_one();
    release.notify_one();
    wait_for_finished(&store, 1).await;
    let stats = runner.shutdown().await;
    assert_eq!(stats.stale, 1);
    // Since the first read: the revive, the second run, both runs' ends, one write refused.
    let after = read(&snapshotter);
    assert_eq!(counter(&after, JOBS_REVIVED, &labels), 1);
    assert_eq!(counter(&after, COMPLETIONS_FENCED, &[]), 1);
    let finished = counter(&after, JOBS_FINISHED, &[labels[0], labels[1], ("outcome", "completed")]);
    assert_eq!(finished, 2, "both runs ended completed; one write was refused");
}

/// One span's fields: name, value.
type SpanFields = Vec<(String, String)>;

/// The fields of every closed `backtick.job` span, as recorded.
#[derive(Default, Clone)]
struct Spans(Arc<Mutex<Vec<SpanFields>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "backtick.job" {
            return;
        }
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Fields(fields));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(fields) = span.extensions_mut().remove::<SpanFields>()
        {
            self.0.lock().expect("lock").push(fields);
        }
    }
}

#[tokio::test]
async fn every_run_has_a_backtick_job_span_with_its_fields_and_outcome() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = Spans::default();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let store = MemoryStore::new();
    let ids = store
        .enqueue_many(vec![job("ok", 3), job("discard", 3)], None)
        .await
        .expect("enqueue");
    run_until_finished(Arc::new(store.clone()), &store, 1, 2).await;

    let spans = spans.0.lock().expect("lock").clone();
    assert_eq!(spans.len(), 2, "{spans:?}");
    for (id, outcome) in ids.iter().zip(["completed", "dead"]) {
        let fields = spans
            .iter()
            .find(|f| f.contains(&("job_id".into(), id.to_string())))
            .unwrap_or_else(|| panic!("no span of job {id}: {spans:?}"));
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("worker"), Some("outcomes"));
        assert_eq!(get("queue"), Some("metered"));
        assert_eq!(get("attempt"), Some("1"));
        assert!(get("runner_id").is_some_and(|r| !r.is_empty()), "{fields:?}");
        assert_eq!(get("outcome"), Some(outcome), "{fields:?}");
        assert!(get("args").is_none(), "arguments are never recorded");
    }
}

#[tokio::test]
async fn fires_on_time_and_a_missed_series_are_counted() {
    use backtick_core::maintenance::ScheduleFirer;
    use backtick_core::schedule::{CatchUp, Every, Periodic};
    use backtick_core::telemetry::{SCHEDULE_FIRED, SCHEDULE_MISSED};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    let periodic = |name: &str, catch_up| Periodic {
        name: name.to_owned(),
        scheduler: Arc::new(Every::new(Duration::from_secs(1)).expect("interval")),
        spec: "every 1s".to_owned(),
        job: NewJob::new("tick", &()).expect("encode"),
        catch_up,
    };
    let firer = ScheduleFirer::new(
        Arc::new(store.clone()),
        Arc::new(ManualClock::new(t0)),
        vec![periodic("once", CatchUp::Once), periodic("skip", CatchUp::Skip)],
    );
    firer.run_once(Some(t0)).await.expect("register");
    let at = |s: i64| Some(t0 + chrono::Duration::seconds(s));
    firer.run_once(at(2)).await.expect("on time");
    // Down for an hour: the "once" schedule catches up with one job, "skip" enqueues none.
    firer.run_once(at(3600)).await.expect("late");
    let metrics = read(&snapshotter);
    // 2 + 2 on time, then the one catch-up.
    assert_eq!(counter(&metrics, SCHEDULE_FIRED, &[]), 5);
    assert_eq!(
        counter(&metrics, SCHEDULE_MISSED, &[]),
        2,
        "one missed series per schedule"
    );
    let enqueued = counter(&metrics, JOBS_ENQUEUED, &[("queue", "default"), ("worker", "tick")]);
    assert_eq!(enqueued, 5, "a schedule's jobs are enqueued jobs too");
}

#[tokio::test]
async fn failed_store_calls_of_the_runner_are_counted_by_transience() {
    use backtick_core::telemetry::STORE_ERRORS;
    use backtick_core::{ClaimParams, Job, StoreError, async_trait};
    use backtick_testkit::intercept::{Intercept, Intercepted};
    struct FailingClaims(std::sync::atomic::AtomicUsize);
    #[async_trait]
    impl Intercept for FailingClaims {
        async fn claim(&self, inner: &dyn QueueStore, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
            if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(StoreError::Connection {
                    source: "connection refused".into(),
                });
            }
            inner.claim(params).await
        }
    }
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let inner = MemoryStore::new();
    inner.enqueue(job("ok", 1), None).await.expect("enqueue");
    let store = Intercepted::new(inner.clone(), FailingClaims(Default::default()));
    run_until_finished(store, &inner, 1, 1).await;
    let metrics = read(&snapshotter);
    assert_eq!(counter(&metrics, STORE_ERRORS, &[("transient", "true")]), 2);
}

/// A `MakeWriter` into a shared buffer: what the fmt subscriber printed.
#[derive(Default, Clone)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Printed {
    type Writer = Printed;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn at_info_a_workers_own_log_line_carries_the_job_id() {
    let printed = Printed::default();
    // The README's subscriber line, writing into `printed`.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(printed.clone())
        .with_ansi(false)
        .finish();
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let store = MemoryStore::new();
    let id = store
        .enqueue(NewJob::new("says_hello", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("says_hello", |_: JobContext, (): ()| async {
            tracing::info!("hello from the worker");
            Ok(())
        }))
        .build()
        .expect("build")
        .start();
    wait_for_finished(&store, 1).await;
    runner.shutdown().await;

    let text = String::from_utf8(printed.0.lock().expect("lock").clone()).expect("utf-8");
    let line = text
        .lines()
        .find(|line| line.contains("hello from the worker"))
        .unwrap_or_else(|| panic!("the worker's line is printed at info: {text}"));
    assert!(line.contains("backtick.job"), "{line}");
    assert!(line.contains(&format!("job_id={id}")), "{line}");
    assert!(line.contains("worker=says_hello"), "{line}");
}

#[tokio::test]
async fn a_runner_warns_once_of_due_jobs_of_a_worker_no_live_runner_has() {
    let printed = Printed::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(printed.clone())
        .with_ansi(false)
        .finish();
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let store = MemoryStore::new();
    let ghost = store
        .enqueue(NewJob::new("ghost.worker", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    // Due in an hour: not waiting yet.
    let later = NewJob::new("ghost.later", &()).expect("encode");
    store
        .enqueue(later.run_after(Duration::from_secs(3600)), None)
        .await
        .expect("enqueue");
    // A worker this runner registers, on a queue it does not serve: served elsewhere, by name.
    let elsewhere = NewJob::new("quick", &()).expect("encode").queue("elsewhere");
    store.enqueue(elsewhere, None).await.expect("enqueue");
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(RunnerConfig {
            queues: Some(vec!["default".to_owned()]),
            unserved_warning: Some(Duration::from_millis(100)),
            ..fast_config()
        })
        .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    // Settled after at most half the interval, then a pass every 100 ms: about ten passes.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    runner.shutdown().await;

    let text = String::from_utf8(printed.0.lock().expect("lock").clone()).expect("utf-8");
    let warnings: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("no live runner has"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning, not one per pass:\n{text}");
    assert!(
        warnings[0].contains("WARN")
            && warnings[0].contains("worker=ghost.worker")
            && warnings[0].contains(&format!("oldest_job={ghost}")),
        "{text}"
    );
    assert!(
        !text.contains("ghost.later") && !text.contains("worker=quick"),
        "{text}"
    );
}
