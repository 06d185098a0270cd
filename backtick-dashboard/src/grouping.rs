//! Error groups: dead jobs and jobs waiting to retry, grouped by worker and the first line of
//! their last error.
//!
//! The groups come from a *bounded* listing, so the Errors page costs the same on a table of
//! millions: at most [`SCAN_PAGES`] pages of the newest dead and queued jobs are read (each
//! page examines at most `JOB_SCAN_LIMIT` jobs through the state index, newest id first and
//! returns at most `MAX_PAGE_SIZE`), and only the jobs among them with an error are grouped.
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
    /// Read the newest dead and queued jobs and group those with an error.
    pub(crate) async fn collect(state: &AppState) -> Result<Self, DashboardError> {
        let query = JobQuery::default().state(JobState::Dead).state(JobState::Queued);
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        let mut failed = Vec::new();
        let mut capped = true;
        for _ in 0..SCAN_PAGES {
            let found = state.ask(state.admin().list_jobs(&query, &page)).await?;
            failed.extend(found.jobs.into_iter().filter(is_failure));
            match found.next {
                Some(next) => page.cursor = Some(next),
                None => {
                    capped = false;
                    break;
                }
            }
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
