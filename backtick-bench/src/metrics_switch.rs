//! A real Prometheus recorder (`metrics-exporter-prometheus`'s, never served) that only the
//! workloads asking for it record into: the process's global recorder is a switch, off
//! (no-op handles, as with no recorder) except while a [`Recording`] is alive. A global
//! recorder cannot be uninstalled, and the other workloads must run without one.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

struct Switch {
    on: AtomicBool,
    prometheus: PrometheusRecorder,
}

static SWITCH: OnceLock<&'static Switch> = OnceLock::new();

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        match self.on.load(Ordering::Relaxed) {
            true => self.prometheus.register_counter(key, metadata),
            false => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match self.on.load(Ordering::Relaxed) {
            true => self.prometheus.register_gauge(key, metadata),
            false => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match self.on.load(Ordering::Relaxed) {
            true => self.prometheus.register_histogram(key, metadata),
            false => Histogram::noop(),
        }
    }
}

/// Metrics go to the Prometheus recorder while this lives. Build runners after starting it:
/// a runner takes its metric handles once.
pub(crate) struct Recording {
    switch: &'static Switch,
}

impl Recording {
    /// Install the switch (once per process) and turn it on.
    pub(crate) fn start() -> Result<Recording, String> {
        let switch = match SWITCH.get() {
            Some(switch) => *switch,
            None => {
                let switch: &'static Switch = Box::leak(Box::new(Switch {
                    on: AtomicBool::new(false),
                    prometheus: PrometheusBuilder::new().build_recorder(),
                }));
                metrics::set_global_recorder(switch).map_err(|e| format!("cannot install the recorder: {e}"))?;
                *SWITCH.get_or_init(|| switch)
            }
        };
        switch.on.store(true, Ordering::Relaxed);
        Ok(Recording { switch })
    }

    /// The recorder's handle, to render what it holds.
    pub(crate) fn handle(&self) -> PrometheusHandle {
        self.switch.prometheus.handle()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.switch.on.store(false, Ordering::Relaxed);
    }
}
