//! Trace propagation: a job continues the trace of the span it was enqueued in.
//!
//! Backtick does not depend on OpenTelemetry. An application that traces with it installs a
//! [`TracePropagation`] once at start-up ([`install_trace_propagation`]); from then on:
//!
//! 1. **At enqueue**, building a [`NewJob`](crate::NewJob) asks the propagation for the
//!    current span's context ([`TracePropagation::capture`]), a W3C `traceparent` (optionally
//!    followed by a newline and the `tracestate`), and the store keeps it with the job
//!    (`backtick_jobs.trace_context`).
//! 2. **At run**, the runner opens the job's `backtick.job` span and hands it the stored
//!    context ([`TracePropagation::continue_trace`]), which makes it a child of the enqueuing
//!    span: the job's work shows up in the same trace as the request that scheduled it.
//!
//! Without an installed propagation nothing is captured and nothing is stored. The
//! repository's `examples/otel-tracing` crate is a complete implementation on
//! `tracing-opentelemetry`, with a test that checks the job's span joins the trace.
//!
//! # Examples
//! ```
//! # extern crate backtick_core as backtick_postgres;
//! use backtick_postgres::telemetry::{self, TracePropagation};
//!
//! /// A stand-in propagation: every job continues one fixed trace.
//! struct FixedTrace;
//!
//! impl TracePropagation for FixedTrace {
//!     fn capture(&self) -> Option<String> {
//!         Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned())
//!     }
//!     fn continue_trace(&self, _span: &tracing::Span, _context: &str) {}
//! }
//!
//! telemetry::install_trace_propagation(FixedTrace)?;
//! let job = backtick_postgres::NewJob::new("mail", &1_i64)?;
//! assert_eq!(
//!     job.trace_context.as_deref(),
//!     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::OnceLock;

/// The longest trace context a job may carry, in bytes: a `traceparent` is 55, and the W3C
/// limit for `tracestate` is 32 members of at most 256 characters; 4 KiB leaves room for
/// both while keeping a runaway value out of every job row.
pub const MAX_TRACE_CONTEXT_LEN: usize = 4096;

/// How an application's tracing stack carries a trace from an enqueue to the job's run.
///
/// Implement it on top of the tracing library the application uses (with
/// `tracing-opentelemetry`: read the current span's OpenTelemetry context and inject it with a
/// W3C `TraceContextPropagator` in [`capture`](Self::capture); extract it and call
/// `set_parent` on the span in [`continue_trace`](Self::continue_trace)), and install it with
/// [`install_trace_propagation`]. Both methods are called on hot paths (every job built, every
/// run): keep them cheap, and return `None` outside a sampled trace.
pub trait TracePropagation: Send + Sync + 'static {
    /// The current span's trace context as text: the W3C `traceparent`, optionally followed by
    /// `'\n'` and the `tracestate`. `None` when there is no active trace. A value longer than
    /// [`MAX_TRACE_CONTEXT_LEN`] is dropped (with a debug log), not stored.
    fn capture(&self) -> Option<String>;

    /// Make `span` (a job's `backtick.job` span, not yet entered) continue the trace in
    /// `context`, a value [`capture`](Self::capture) returned when the job was enqueued. A
    /// context it cannot parse should be ignored: the job runs either way.
    fn continue_trace(&self, span: &tracing::Span, context: &str);
}

static PROPAGATION: OnceLock<Box<dyn TracePropagation>> = OnceLock::new();

/// [`install_trace_propagation`] was called before: the first propagation stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a trace propagation is already installed; install it once, at start-up, before building jobs or runners")]
pub struct PropagationAlreadyInstalled;

/// Install the process's trace propagation (once, at start-up, before jobs are built and
/// runners started). See the [module documentation](crate::telemetry).
///
/// # Errors
/// [`PropagationAlreadyInstalled`] when one is installed already.
pub fn install_trace_propagation(propagation: impl TracePropagation) -> Result<(), PropagationAlreadyInstalled> {
    PROPAGATION
        .set(Box::new(propagation))
        .map_err(|_| PropagationAlreadyInstalled)
}

/// The current span's trace context through the installed propagation, or `None` (no
/// propagation installed, no active trace, or a context over [`MAX_TRACE_CONTEXT_LEN`]).
/// [`NewJob`](crate::NewJob) calls it when a job is built.
pub fn current_trace_context() -> Option<String> {
    let context = PROPAGATION.get()?.capture()?;
    if context.len() > MAX_TRACE_CONTEXT_LEN {
        tracing::debug!(
            len = context.len(),
            max = MAX_TRACE_CONTEXT_LEN,
            "trace context too long; the job is enqueued without it"
        );
        return None;
    }
    Some(context)
}

/// Make `span` continue `context` through the installed propagation, if any.
pub(crate) fn continue_trace(span: &tracing::Span, context: Option<&str>) {
    if let (Some(propagation), Some(context)) = (PROPAGATION.get(), context) {
        propagation.continue_trace(span, context);
    }
}
