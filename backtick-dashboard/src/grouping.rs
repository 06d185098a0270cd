//! Error groups: dead jobs and jobs waiting to retry, grouped by worker and the first line of
//! their last error.
//!
//! The groups come from a *bounded* listing, so the Errors page costs the same on a table of
//! millions: at most [`SCAN_PAGES`] pages of the newest dead jobs and as many of the newest
//! queued jobs with an error are read (each page examines at most `JOB_SCAN_LIMIT` jobs
//! through its state's index, newest id first, and returns at most `MAX_PAGE_SIZE`), and only
//! the failures among them are grouped.
//! Older errors are not counted, and the page says so. A group action re-reads the same
//! listing and acts on the ids of the group it finds there, so it touches only jobs the
//! operator could have seen.

use std::collections::BTreeMap;

use backtick_core::admin::{JobQuery, MAX_PAGE_SIZE, PageRequest};
use backtick_core::{Job, JobId, JobState, Timestamp};

use crate::error::DashboardError;
use crate::format::first_line;
use crate::state::AppState;

/// Pages of dead and queued jobs read to build the groups.
pub(crate) const SCAN_PAGES: usize = 5;

/// The length a group's message is cut to.
const MESSAGE_LIMIT: usize = 160;

/// Jobs of one worker that failed with the same first error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorGroup {
    pub(crate) worker: String,
    /// The first line of the error, cut to [`MESSAGE_LIMIT`] characters.
    pub(crate) message: String,
    /// Its dead jobs, newest first.
    pub(crate) dead: Vec<JobId>,
    /// Its queued jobs that failed before and wait to retry, newest first.
    pub(crate) retrying: Vec<JobId>,
    /// When the newest of them last changed.
    pub(crate) latest: Timestamp,
}

/// The groups, biggest first, and how much was read to find them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorGroups {
    pub(crate) groups: Vec<ErrorGroup>,
    /// Jobs with an error among those read.
    pub(crate) scanned: usize,
    /// True when reading stopped at its bound: older errors were not read.
    pub(crate) capped: bool,
}

impl ErrorGroups {
    /// Read the newest dead jobs and the newest queued jobs with an error, and group them.
    ///
    /// Dead and queued jobs are two listings, not one of both states: each walks its own
    /// state's index, so a backlog of queued jobs (newer than every dead job, and without an
    /// error) does not use up the bound before a single dead job is read.
    pub(crate) async fn collect(state: &AppState) -> Result<Self, DashboardError> {
        let mut failed = Vec::new();
        let mut capped = false;
        for listed in [JobState::Dead, JobState::Queued] {
            // An empty needle: any job with an error (a queued job waiting to retry has one).
            let query = JobQuery::default().state(listed).error_contains("");
            let (jobs, cut) = newest(state, &query).await?;
            failed.extend(jobs.into_iter().filter(is_failure));
            capped |= cut;
        }
        Ok(ErrorGroups::from_jobs(&failed, capped))
    }

    fn from_jobs(jobs: &[Job], capped: bool) -> Self {
        let mut groups: BTreeMap<(String, String), ErrorGroup> = BTreeMap::new();
        for job in jobs {
            let message = first_line(job.last_error.as_deref().unwrap_or(""), MESSAGE_LIMIT);
            let group = groups
                .entry((job.worker.clone(), message.clone()))
                .or_insert_with(|| ErrorGroup {
                    worker: job.worker.clone(),
                    message,
                    dead: Vec::new(),
                    retrying: Vec::new(),
                    latest: job.updated_at,
                });
            group.latest = group.latest.max(job.updated_at);
            match job.state {
                JobState::Dead => group.dead.push(job.id),
                _ => group.retrying.push(job.id),
            }
        }
        let mut groups: Vec<ErrorGroup> = groups.into_values().collect();
        groups.sort_by_key(|g| std::cmp::Reverse((g.dead.len() + g.retrying.len(), g.latest)));
        ErrorGroups {
            groups,
            scanned: jobs.len(),
            capped,
        }
    }

    /// The group of `worker` and `message`, if the listing has it.
    pub(crate) fn find(&self, worker: &str, message: &str) -> Option<&ErrorGroup> {
        self.groups.iter().find(|g| g.worker == worker && g.message == message)
    }
}

/// Up to [`SCAN_PAGES`] pages of `query`, newest first; true when more pages were left.
async fn newest(state: &AppState, query: &JobQuery) -> Result<(Vec<Job>, bool), DashboardError> {
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    let mut jobs = Vec::new();
    for _ in 0..SCAN_PAGES {
        let found = state.ask(state.admin().list_jobs(query, &page)).await?;
        jobs.extend(found.jobs);
        match found.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok((jobs, false)),
        }
    }
    Ok((jobs, true))
}

/// A dead job, or a queued one that failed before (it has an error and was claimed).
fn is_failure(job: &Job) -> bool {
    job.last_error.is_some() && (job.state == JobState::Dead || job.attempt > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtick_core::Codec;

    fn job(id: i64, worker: &str, state: JobState, error: &str) -> Job {
        let now = chrono::Utc::now();
        Job {
            id: JobId(id),
            worker: worker.into(),
            queue: "q".into(),
            args: b"[]".to_vec(),
            codec: Codec::Json,
            priority: 0,
            state,
            attempt: 1,
            max_attempts: 3,
            run_at: now,
            lease_owner: None,
            lease_expires_at: None,
            last_error: Some(error.into()),
            unique_key: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    #[test]
    fn failures_group_by_worker_and_first_error_line_biggest_first() {
        let jobs = [
            job(1, "mail", JobState::Dead, "smtp: refused\nbacktrace"),
            job(2, "mail", JobState::Queued, "smtp: refused\nother backtrace"),
            job(3, "mail", JobState::Dead, "smtp: refused"),
            job(4, "resize", JobState::Dead, "smtp: refused"),
        ];
        let groups = ErrorGroups::from_jobs(&jobs, false);
        assert_eq!(groups.groups.len(), 2);
        let mail = &groups.groups[0];
        assert_eq!((mail.worker.as_str(), mail.message.as_str()), ("mail", "smtp: refused"));
        assert_eq!(mail.dead, vec![JobId(1), JobId(3)]);
        assert_eq!(mail.retrying, vec![JobId(2)]);
        assert!(groups.find("resize", "smtp: refused").is_some());
    }
}
