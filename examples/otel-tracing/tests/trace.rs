//! End to end: a job enqueued inside a request's span runs in a `backtick.job` span of the same
//! trace, a child of the request's span; a job enqueued outside any trace starts its own.
//! Spans are exported to OpenTelemetry's in-memory exporter through `tracing-opentelemetry`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backtick_example_otel::W3cTracePropagation;
use backtick_postgres::{JobId, JobState, NewJob, QueueStore, Runner};
use backtick_testkit::MemoryStore;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The worker both tests enqueue (each on a queue of its own); it logs inside the job's span.
#[backtick_postgres::worker(name = "otel.traced")]
async fn traced(order: i64) -> Result<(), backtick_postgres::JobError> {
    tracing::info!(order, "handling the order");
    Ok(())
}

struct Telemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// The process's tracing stack, installed once: a `tracing` subscriber whose OpenTelemetry
/// layer exports every span to memory, and backtick's W3C trace propagation.
fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("backtick-example-otel")));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        backtick_postgres::telemetry::install_trace_propagation(W3cTracePropagation::default())
            .expect("the only propagation");
        Telemetry { exporter, provider }
    })
}

/// Run every job on `store` with a real runner until `id` is done; then every span of it has
/// ended and been exported.
async fn run_until_done(store: Arc<MemoryStore>, id: JobId) -> Result<Vec<SpanData>, BoxError> {
    let runner = Runner::builder(store.clone()).discovered().build()?.start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let state = loop {
        let state = store.get(id).await?.map(|job| job.state);
        if state == Some(JobState::Done) || tokio::time::Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    runner.shutdown().await;
    assert_eq!(state, Some(JobState::Done), "job {id} did not finish");
    let telemetry = telemetry();
    telemetry.provider.force_flush()?;
    Ok(telemetry.exporter.get_finished_spans()?)
}

/// The `backtick.job` span of job `id` on `queue` (each test has a queue of its own: the
/// tests run at once, on stores whose ids both start at 1, into one exporter).
fn job_span<'a>(spans: &'a [SpanData], id: JobId, queue: &str) -> &'a SpanData {
    let has = |span: &SpanData, key: &str, value: &str| {
        span.attributes
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
    };
    spans
        .iter()
        .find(|span| span.name == "backtick.job" && has(span, "job_id", &id.to_string()) && has(span, "queue", queue))
        .unwrap_or_else(|| panic!("no backtick.job span for job {id} on {queue} among {spans:#?}"))
}

/// Enqueue the worker's job on `queue`, in whatever span is current.
async fn enqueue(store: &MemoryStore, queue: &str, order: i64) -> Result<JobId, BoxError> {
    let job = NewJob::new("otel.traced", &(order,))?.queue(queue);
    Ok(store.enqueue(job, None).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_continues_the_trace_of_the_span_that_enqueued_it() -> Result<(), BoxError> {
    telemetry();
    let store = Arc::new(MemoryStore::new());

    let request = tracing::info_span!("http.request", route = "/orders");
    let (request_trace, request_span, id) = {
        let _entered = request.enter();
        let context = tracing::Span::current().context();
        let span_context = context.span().span_context().clone();
        let id = enqueue(&store, "traced", 42).await?;
        (span_context.trace_id(), span_context.span_id(), id)
    };
    drop(request);
    assert_ne!(request_trace, TraceId::INVALID, "the request span is traced");

    let stored = store.get(id).await?.ok_or("the job is gone")?;
    let traceparent = format!("00-{request_trace}-{request_span}-01");
    assert_eq!(
        stored.trace_context.as_deref(),
        Some(traceparent.as_str()),
        "the job stores the request's W3C traceparent"
    );

    let spans = run_until_done(store, id).await?;
    let job = job_span(&spans, id, "traced");
    assert_eq!(
        job.span_context.trace_id(),
        request_trace,
        "the job's span is in the request's trace"
    );
    assert_eq!(
        job.parent_span_id, request_span,
        "the job's span is a child of the request's span"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_outside_a_trace_starts_its_own() -> Result<(), BoxError> {
    telemetry();
    let store = Arc::new(MemoryStore::new());
    let id = enqueue(&store, "untraced", 7).await?;
    assert_eq!(
        store.get(id).await?.ok_or("the job is gone")?.trace_context,
        None,
        "nothing to carry outside a span"
    );

    let spans = run_until_done(store, id).await?;
    let job = job_span(&spans, id, "untraced");
    assert_eq!(job.parent_span_id, SpanId::INVALID, "the job's span is a root");
    assert_ne!(job.span_context.trace_id(), TraceId::INVALID);
    Ok(())
}
