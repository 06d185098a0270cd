//! Throughput over the last hour: jobs finished per minute, counted from a bounded listing of
//! recently finished jobs, drawn as an inline SVG bar chart on the server (no script, no
//! inline style: the bars are classed rects the stylesheet colours).

use backtick_core::admin::{JobQuery, MAX_PAGE_SIZE, PageRequest, TimeRange};
use backtick_core::{JobState, Timestamp};

use crate::error::DashboardError;
use crate::state::AppState;

/// Minutes in the chart.
pub(crate) const MINUTES: usize = 60;

/// At most this many pages of finished jobs are read (each examines at most
/// `JOB_SCAN_LIMIT` jobs): past that the figures are lower bounds, and say so.
const PAGES: usize = 5;

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
    /// Count the jobs that finished (done or dead) in the hour before `now`.
    pub(crate) async fn last_hour(state: &AppState, now: Timestamp) -> Result<Self, DashboardError> {
        let since = now - chrono::Duration::minutes(MINUTES as i64);
        let query = JobQuery::default()
            .state(JobState::Done)
            .state(JobState::Dead)
            .finished(TimeRange::between(since, now + chrono::Duration::seconds(1)));
        let mut chart = Throughput {
            done: vec![0; MINUTES],
            dead: vec![0; MINUTES],
            capped: false,
        };
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        for _ in 0..PAGES {
            let found = state.ask(state.admin().list_jobs(&query, &page)).await?;
            for job in &found.jobs {
                if let Some(finished) = job.finished_at {
                    chart.add(job.state, finished, now);
                }
            }
            match found.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok(chart),
            }
        }
        chart.capped = true;
        Ok(chart)
    }

    fn add(&mut self, state: JobState, finished: Timestamp, now: Timestamp) {
        let minutes_ago = (now - finished).num_minutes().clamp(0, MINUTES as i64 - 1) as usize;
        let slot = MINUTES - 1 - minutes_ago;
        match state {
            JobState::Dead => self.dead[slot] += 1,
            _ => self.done[slot] += 1,
        }
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
    fn jobs_land_in_the_minute_they_finished() {
        let now = chrono::Utc::now();
        let mut chart = Throughput {
            done: vec![0; MINUTES],
            dead: vec![0; MINUTES],
            capped: false,
        };
        chart.add(JobState::Done, now, now);
        chart.add(JobState::Done, now - chrono::Duration::seconds(30), now);
        chart.add(JobState::Dead, now - chrono::Duration::minutes(59), now);
        assert_eq!(chart.done[MINUTES - 1], 2);
        assert_eq!(chart.dead[0], 1);
        let svg = chart.svg();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2 done, 1 dead"));
    }
}
