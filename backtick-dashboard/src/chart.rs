//! Throughput over the last hour: jobs finished per minute, each minute a capped count of the
//! store's finish-time index (`QueueAdmin::count_finished`), drawn as an inline SVG bar chart
//! on the server (no script, no inline style: the bars are classed rects the stylesheet
//! colours).

use backtick_core::admin::TimeRange;
use backtick_core::{JobState, Timestamp};

use crate::error::DashboardError;
use crate::state::AppState;

/// Minutes in the chart.
pub(crate) const MINUTES: usize = 60;

/// Finished jobs counted per minute at most: a busier minute shows this many, and the chart
/// says its figures are lower bounds. The Postgres stores read at most this many (plus one)
/// entries of the finish-time index per minute, so the chart reads at most 60 times as many,
/// whatever the table holds.
const MINUTE_CAP: u64 = 2_000;

/// Jobs finished per minute over the last hour, oldest minute first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Throughput {
    /// Done jobs per minute.
    pub(crate) done: Vec<u64>,
    /// Dead jobs per minute.
    pub(crate) dead: Vec<u64>,
    /// True when counting stopped at its bound.
    pub(crate) capped: bool,
}

impl Throughput {
    /// Count the jobs that finished (done or dead) in each minute of the hour before `now`.
    ///
    /// One capped count per minute rather than a listing of the hour's jobs: a listing walks
    /// job ids, and ids are enqueue order, so a backlog of queued jobs (the newest ids) used up
    /// the listing's bound before it reached a finished job.
    pub(crate) async fn last_hour(state: &AppState, now: Timestamp) -> Result<Self, DashboardError> {
        let mut chart = Throughput {
            done: vec![0; MINUTES],
            dead: vec![0; MINUTES],
            capped: false,
        };
        for slot in 0..MINUTES {
            let counts = state
                .ask(state.admin().count_finished(minute(now, slot), MINUTE_CAP))
                .await?;
            let (done, dead) = (counts.total(JobState::Done), counts.total(JobState::Dead));
            chart.done[slot] = done.value;
            chart.dead[slot] = dead.value;
            chart.capped |= done.capped || dead.capped;
        }
        Ok(chart)
    }

    /// Total done jobs.
    pub(crate) fn total_done(&self) -> u64 {
        self.done.iter().sum()
    }

    /// Total dead jobs.
    pub(crate) fn total_dead(&self) -> u64 {
        self.dead.iter().sum()
    }

    /// The chart as an SVG element: one stacked bar per minute (done below, dead on top),
    /// scaled to the busiest minute. Only numbers are interpolated, so it is safe to embed.
    pub(crate) fn svg(&self) -> String {
        const WIDTH: usize = 600;
        const HEIGHT: u64 = 120;
        let bar = WIDTH / MINUTES;
        let peak = self
            .done
            .iter()
            .zip(&self.dead)
            .map(|(done, dead)| done + dead)
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = |n: u64| n * HEIGHT / peak;
        let mut svg = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {h}\" preserveAspectRatio=\"none\" role=\"img\" \
             aria-label=\"jobs finished per minute over the last hour: {done} done, {dead} dead, busiest minute {peak}\">",
            h = HEIGHT + 1,
            done = self.total_done(),
            dead = self.total_dead(),
        );
        svg.push_str(&format!(
            "<line class=\"axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/>"
        ));
        for (minute, (done, dead)) in self.done.iter().zip(&self.dead).enumerate() {
            let x = minute * bar;
            let done_h = scale(*done);
            let dead_h = scale(*dead);
            if done_h > 0 {
                svg.push_str(&rect("bar-done", x, bar, HEIGHT - done_h, done_h, *done, minute));
            }
            if dead_h > 0 {
                svg.push_str(&rect(
                    "bar-dead",
                    x,
                    bar,
                    HEIGHT - done_h - dead_h,
                    dead_h,
                    *dead,
                    minute,
                ));
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// The finish times of minute `slot` of the chart ending at `now` (slot 0: an hour ago; the
/// last slot: up to and including `now`).
fn minute(now: Timestamp, slot: usize) -> TimeRange {
    let from = now - chrono::Duration::minutes((MINUTES - slot) as i64);
    let until = if slot + 1 == MINUTES {
        now + chrono::Duration::seconds(1)
    } else {
        from + chrono::Duration::minutes(1)
    };
    TimeRange::between(from, until)
}

fn rect(class: &str, x: usize, width: usize, y: u64, height: u64, count: u64, minute: usize) -> String {
    let ago = match MINUTES - 1 - minute {
        0 => "this minute".to_owned(),
        n => format!("{n} min ago"),
    };
    format!(
        "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\"><title>{count} {what}, {ago}</title></rect>",
        w = width.saturating_sub(1).max(1),
        what = if class == "bar-dead" { "dead" } else { "done" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minutes_tile_the_last_hour_up_to_now() {
        let now = chrono::Utc::now();
        assert_eq!(minute(now, 0).from, Some(now - chrono::Duration::minutes(60)));
        for slot in 1..MINUTES {
            assert_eq!(minute(now, slot).from, minute(now, slot - 1).until, "slot {slot}");
        }
        assert!(minute(now, MINUTES - 1).until > Some(now), "this minute includes now");
    }

    #[test]
    fn the_chart_has_a_bar_per_busy_minute_and_totals() {
        let mut chart = Throughput {
            done: vec![0; MINUTES],
            dead: vec![0; MINUTES],
            capped: false,
        };
        chart.done[MINUTES - 1] = 2;
        chart.dead[0] = 1;
        let svg = chart.svg();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2 done, 1 dead"));
    }
}
