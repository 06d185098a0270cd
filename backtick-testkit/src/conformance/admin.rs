//! The admin contract ([`QueueAdmin`]): listing and paging, attempt history and counts
//! ([`jobs`]), actions on one job ([`actions`]) and in bulk ([`bulk`]), queues and pausing
//! ([`queues`]), finished-job counts ([`throughput`]), schedules ([`schedules`]) and runners ([`runners`]). Run by
//! [`super::run_all_admin`].

use std::sync::Arc;
use std::time::Duration;

use backtick_core::admin::{AdminError, JobCursor, JobDetail, JobPage, JobQuery, PageRequest, QueueAdmin, RunnerInfo};
use backtick_core::{JobId, RunnerId, Timestamp};

use super::AdminCase;
use super::support::{Store, WORKER, t0};

mod actions;
mod bulk;
mod jobs;
mod queues;
mod runners;
mod schedules;
mod throughput;

pub(super) fn cases() -> Vec<AdminCase> {
    [
        jobs::cases(),
        actions::cases(),
        bulk::cases(),
        queues::cases(),
        schedules::cases(),
        runners::cases(),
        throughput::cases(),
    ]
    .concat()
}

/// The store under test.
type Admin = Arc<dyn QueueAdmin>;

/// The same store, as the runner sees it.
fn store(admin: &Admin) -> Store {
    admin.clone()
}

/// How many pages [`all_pages`] follows before it calls the listing endless.
const MAX_PAGES: usize = 200;

async fn page(admin: &Admin, query: &JobQuery, page: &PageRequest) -> JobPage {
    admin.list_jobs(query, page).await.expect("list_jobs failed")
}

fn ids(page: &JobPage) -> Vec<JobId> {
    page.jobs.iter().map(|job| job.id).collect()
}

/// Every job of the listing from `first` on, following `next` to the end.
async fn all_pages(admin: &Admin, query: &JobQuery, first: PageRequest) -> Vec<JobId> {
    let mut request = first;
    let mut seen = Vec::new();
    for _ in 0..MAX_PAGES {
        let found = page(admin, query, &request).await;
        seen.extend(ids(&found));
        match found.next {
            Some(next) => request.cursor = Some(next),
            None => return seen,
        }
    }
    panic!("the listing of {query:?} did not end after {MAX_PAGES} pages; seen so far: {seen:?}");
}

/// The page after `cursor` with `request`'s size and order.
fn after(request: PageRequest, cursor: Option<JobCursor>) -> PageRequest {
    let cursor = cursor.unwrap_or_else(|| panic!("expected a next page after {request:?}"));
    PageRequest {
        cursor: Some(cursor),
        ..request
    }
}

async fn detail(admin: &Admin, id: JobId) -> JobDetail {
    admin.job_detail(id).await.expect("job_detail failed")
}

/// A runner registration declaring `schedules`, serving every queue.
fn runner(id: &str, schedules: &[&str]) -> RunnerInfo {
    RunnerInfo {
        id: RunnerId::new(id),
        host: "conformance-host".to_owned(),
        pid: 4242,
        version: "0.0.0-conformance".to_owned(),
        queues: None,
        workers: vec![WORKER.to_owned()],
        schedules: schedules.iter().map(|s| (*s).to_owned()).collect(),
        concurrency: 4,
        started_at: t0(),
    }
}

/// Register `info` at `now`, live for `ttl`.
async fn register(admin: &Admin, info: &RunnerInfo, ttl: Duration, now: Timestamp) {
    admin
        .register_runner(info, ttl, Some(now))
        .await
        .expect("register_runner failed");
}

/// Panic unless `result` is the error `matches` accepts.
fn expect_err<T: std::fmt::Debug>(result: Result<T, AdminError>, what: &str, matches: impl Fn(&AdminError) -> bool) {
    match result {
        Err(error) if matches(&error) => {}
        other => panic!("{what}: got {other:?}"),
    }
}
