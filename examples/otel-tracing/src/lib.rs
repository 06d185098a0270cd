//! Jobs that continue the trace they were enqueued in, with OpenTelemetry.
//!
//! Backtick keeps OpenTelemetry out of its own dependencies; it offers a hook instead,
//! [`TracePropagation`]: when a job is built, backtick asks it for the current span's trace
//! context and stores that text with the job; when the job runs, it hands the stored text back
//! to make the job's `backtick.job` span a child of the span that enqueued it. This crate is
//! that hook for `tracing-opentelemetry`, carrying the context as a W3C `traceparent` (and
//! `tracestate`). Copy it into an application that traces with OpenTelemetry:
//!
//! ```no_run
//! use backtick_example_otel::W3cTracePropagation;
//!
//! // After installing the tracing subscriber with its `tracing_opentelemetry` layer:
//! backtick_postgres::telemetry::install_trace_propagation(W3cTracePropagation::default())
//!     .expect("installed once, at start-up");
//! ```
//!
//! `tests/trace.rs` checks it end to end: a job enqueued inside a request's span, run by a
//! runner, exports a `backtick.job` span in the request's trace, with the request's span as its
//! parent.

use std::collections::HashMap;

use backtick_postgres::telemetry::TracePropagation;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header names of the W3C Trace Context format.
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Trace propagation through `tracing-opentelemetry` in the W3C Trace Context format: the
/// stored text is the `traceparent`, followed by a newline and the `tracestate` when there is
/// one.
///
/// # Examples
/// ```
/// use backtick_example_otel::W3cTracePropagation;
/// use backtick_postgres::telemetry::TracePropagation;
///
/// // Outside any OpenTelemetry span there is nothing to carry.
/// assert_eq!(W3cTracePropagation::default().capture(), None);
/// ```
#[derive(Debug, Default)]
pub struct W3cTracePropagation {
    propagator: TraceContextPropagator,
}

impl TracePropagation for W3cTracePropagation {
    fn capture(&self) -> Option<String> {
        let context = tracing::Span::current().context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut headers = HashMap::new();
        self.propagator.inject_context(&context, &mut headers);
        let parent = headers.remove(TRACEPARENT)?;
        Some(match headers.remove(TRACESTATE) {
            Some(state) if !state.is_empty() => format!("{parent}\n{state}"),
            _ => parent,
        })
    }

    fn continue_trace(&self, span: &tracing::Span, context: &str) {
        let (parent, state) = context.split_once('\n').unwrap_or((context, ""));
        let mut headers = HashMap::from([(TRACEPARENT.to_owned(), parent.to_owned())]);
        if !state.is_empty() {
            headers.insert(TRACESTATE.to_owned(), state.to_owned());
        }
        let parent_context = self.propagator.extract(&headers);
        if !parent_context.span().span_context().is_valid() {
            tracing::debug!(context, "not a W3C trace context; the job starts a trace of its own");
            return;
        }
        if let Err(error) = span.set_parent(parent_context) {
            tracing::debug!(%error, "the job's span cannot continue the stored trace");
        }
    }
}
