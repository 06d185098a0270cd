//! Start latencies: how long after a reference time (a job's `created_at`, or its due time)
//! its worker started, in milliseconds on the database clock.
//!
//! [`Recorder`] keeps every sample (the short workloads); [`Histogram`] keeps counts in
//! fixed buckets, so that a soak of hours records millions of samples in constant memory.

use std::sync::{Arc, Mutex, PoisonError};

use backtick_postgres::{JobContext, QueueStore, Timestamp};

/// Database clock minus local clock: the sample with the shortest round trip of twenty,
/// its reading taken to be at the round trip's midpoint.
pub(crate) async fn clock_offset(store: &dyn QueueStore) -> Result<chrono::TimeDelta, String> {
    clock_offset_of(async || store.now().await.map_err(|e| e.to_string())).await
}

/// [`clock_offset`] from any reading of the database clock.
pub(crate) async fn clock_offset_of(
    mut read_db_clock: impl AsyncFnMut() -> Result<Timestamp, String>,
) -> Result<chrono::TimeDelta, String> {
    let mut best: Option<(chrono::TimeDelta, chrono::TimeDelta)> = None;
    for _ in 0..20 {
        let before = chrono::Utc::now();
        let db = read_db_clock().await?;
        let after = chrono::Utc::now();
        let round_trip = after - before;
        let offset = db - (before + round_trip / 2);
        if best.is_none_or(|(shortest, _)| round_trip < shortest) {
            best = Some((round_trip, offset));
        }
    }
    Ok(best.map(|(_, offset)| offset).unwrap_or_default())
}

/// Milliseconds from `from` until now, on the database clock (local clock plus `offset`).
pub(crate) fn ms_since(from: Timestamp, offset: chrono::TimeDelta) -> f64 {
    let now = chrono::Utc::now() + offset;
    (now - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Every start latency of a workload, in the order recorded.
pub(crate) struct Recorder {
    /// Database clock minus local clock.
    offset: chrono::TimeDelta,
    samples: Mutex<Vec<f64>>,
}

impl Recorder {
    /// A recorder whose clock offset to the database is measured through `store`.
    pub(crate) async fn calibrated(store: &dyn QueueStore) -> Result<Arc<Recorder>, String> {
        Ok(Arc::new(Recorder {
            offset: clock_offset(store).await?,
            samples: Mutex::new(Vec::new()),
        }))
    }

    /// Record the time from the job's `created_at` to now (its worker's start).
    pub(crate) fn record(&self, ctx: &JobContext) {
        self.record_since(ctx.job().created_at);
    }

    /// Record the time from `from` (a due time, say) to now.
    pub(crate) fn record_since(&self, from: Timestamp) {
        let ms = ms_since(from, self.offset);
        self.samples.lock().unwrap_or_else(PoisonError::into_inner).push(ms);
    }

    /// How many samples it holds.
    pub(crate) fn len(&self) -> usize {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The p99 of each of `n` consecutive slices of the samples, in the order recorded.
    pub(crate) fn p99_over_time(&self, n: usize) -> Vec<f64> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let size = samples.len().div_ceil(n.max(1)).max(1);
        samples
            .chunks(size)
            .map(|chunk| {
                let mut chunk = chunk.to_vec();
                chunk.sort_by(f64::total_cmp);
                percentile(&chunk, 99.0)
            })
            .collect()
    }

    /// The samples, sorted.
    pub(crate) fn sorted(&self) -> Vec<f64> {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
        samples.sort_by(f64::total_cmp);
        samples
    }
}

/// The nearest-rank percentile of sorted `values` (NaN when empty).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Latencies in logarithmic buckets 1% wide, from 1 µs to over an hour: constant memory,
/// percentiles within 1%.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    n: u64,
    max: f64,
}

/// Bucket `i` holds values up to `SMALLEST_MS * GROWTH^i`.
const SMALLEST_MS: f64 = 0.001;
const GROWTH: f64 = 1.01;
const BUCKETS: usize = 2_400;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            max: f64::NAN,
        }
    }
}

impl Histogram {
    /// Count one latency of `ms` milliseconds (below 1 µs, clock noise included, counts as 1 µs).
    pub(crate) fn record(&mut self, ms: f64) {
        let bucket = if ms <= SMALLEST_MS {
            0
        } else {
            ((ms / SMALLEST_MS).ln() / GROWTH.ln()).ceil() as usize
        };
        self.counts[bucket.min(BUCKETS - 1)] += 1;
        self.n += 1;
        self.max = self.max.max(ms);
    }

    /// How many latencies were counted.
    pub(crate) fn len(&self) -> u64 {
        self.n
    }

    /// The largest latency counted (NaN when none).
    pub(crate) fn max(&self) -> f64 {
        self.max
    }

    /// The upper bound of the bucket holding the nearest-rank percentile `p` (NaN when empty).
    pub(crate) fn percentile(&self, p: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (SMALLEST_MS * GROWTH.powi(bucket as i32)).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_takes_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn histogram_percentiles_are_within_one_percent() {
        let mut histogram = Histogram::default();
        for i in 1..=1_000 {
            histogram.record(f64::from(i) / 100.0);
        }
        assert_eq!(histogram.len(), 1_000);
        for (p, exact) in [(50.0, 5.0), (99.0, 9.9), (100.0, 10.0)] {
            let got = histogram.percentile(p);
            assert!((got - exact).abs() <= exact * 0.01 + 1e-9, "p{p}: {got} vs {exact}");
        }
        assert_eq!(histogram.max(), 10.0);
        assert!(Histogram::default().percentile(50.0).is_nan());
    }

    #[test]
    fn histogram_clamps_tiny_negative_and_huge_values() {
        let mut histogram = Histogram::default();
        histogram.record(-3.0);
        histogram.record(1e12);
        assert_eq!(histogram.len(), 2);
        assert!(histogram.percentile(50.0) <= SMALLEST_MS);
        assert!(histogram.percentile(100.0) > 1e6);
    }
}
