//! F.dashboard: every page of the web dashboard on a big table. The table of `F.admin`
//! ([`super::operators::seed_operators_table`]: 1,000,000 finished and 10,000 queued jobs,
//! never analyzed), the dashboard's router built in-process over the backend's store as
//! `Arc<dyn QueueAdmin>`, and a GET of each page sent to it with `tower`'s `oneshot`,
//! `admin_repeats` times, the body read to its end: the server's whole answer without a socket.
//! Each page against the 300 ms target of issue 11.
//!
//! The count cache is off (`count_cache_ttl` zero), so every request pays for its counts as
//! the first request after the cache expires does.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use backtick_dashboard::{DashboardConfig, router};
use backtick_postgres::admin::{JobQuery, PageRequest};
use backtick_postgres::{JobState, QueueAdmin};
use tower::ServiceExt;

use super::Env;
use super::operators::seed_operators_table;
use crate::report::Figure;

/// What each page must answer under, in milliseconds.
const TARGET_MS: f64 = 300.0;

/// The largest body read, in bytes.
const BODY_LIMIT: usize = 16 << 20;

/// One page timed: its path (`{job}`: a dead job's id; `{next}`: the query of the dead
/// listing's second page) and its figures: p50, p95 (ms), p95 / target.
struct Page {
    path: &'static str,
    metrics: [&'static str; 3],
}

/// A [`Page`] whose figures are named `<name>_p50_ms`, `<name>_p95_ms`, `<name>_p95_vs_target`.
macro_rules! page {
    ($name:literal, $path:literal) => {
        Page {
            path: $path,
            metrics: [
                concat!($name, "_p50_ms"),
                concat!($name, "_p95_ms"),
                concat!($name, "_p95_vs_target"),
            ],
        }
    };
}

/// The pages timed: each of the dashboard's pages, and every filter of the jobs page.
const PAGES: &[Page] = &[
    page!("overview", "/"),
    page!("jobs", "/jobs"),
    page!("jobs_dead", "/jobs?state=dead"),
    page!("jobs_queue", "/jobs?queue=billing"),
    page!("jobs_worker", "/jobs?worker=charge_card"),
    page!("jobs_args", "/jobs?args=%7B%22x%22%3A1%7D"),
    page!("jobs_error", "/jobs?error=connection+reset"),
    page!("jobs_dead_page2", "/jobs?{next}"),
    page!("job", "/jobs/{job}"),
    page!("queues", "/queues"),
    page!("cron", "/cron"),
    page!("runners", "/runners"),
    page!("errors", "/errors"),
];

/// F.dashboard: fill, then time a GET of every page.
pub(super) async fn pages(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let mut figures = seed_operators_table(&env).await?;
    let admin = env.store.admin();
    let app = router(
        admin.clone(),
        DashboardConfig::default()
            .count_cache_ttl(Duration::ZERO)
            .query_timeout(Duration::from_secs(30)),
    );
    let job = dead_job(admin.as_ref()).await?;
    let next = second_page(&app).await?;
    for page in PAGES {
        let path = page.path.replace("{job}", &job.to_string()).replace("{next}", &next);
        let times = time_page(&app, &path, env.sizes.admin_repeats).await?;
        figures.extend(summarize(page.metrics, &path, &times));
    }
    Ok(figures)
}

/// The id of the newest dead job: its page has the longest history.
async fn dead_job(admin: &dyn QueueAdmin) -> Result<i64, String> {
    let page = admin
        .list_jobs(&JobQuery::default().state(JobState::Dead), &PageRequest::first(1))
        .await
        .map_err(|e| format!("cannot list dead jobs: {e}"))?;
    page.jobs
        .first()
        .map(|job| job.id.0)
        .ok_or_else(|| "the seeded table has no dead job".to_owned())
}

/// The query of the second page of the dead jobs, from the first page's "next page" link.
async fn second_page(app: &Router) -> Result<String, String> {
    let (_, body) = get(app, "/jobs?state=dead").await?;
    let link = body
        .split("rel=\"next\"")
        .next()
        .filter(|before| before.len() < body.len())
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|href| href.split_once("/jobs?"))
        .map(|(_, query)| {
            query
                .trim_end_matches(['"', ' '])
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .ok_or_else(|| "the dead jobs page has no next page link".to_owned())?;
    Ok(link)
}

/// GET `path` `repeats` times, each to the end of its body; the time of each in milliseconds.
async fn time_page(app: &Router, path: &str, repeats: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let started = Instant::now();
        let (status, body) = get(app, path).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != StatusCode::OK {
            return Err(format!("GET {path} answered {status}: {}", first_chars(&body, 300)));
        }
    }
    Ok(times)
}

/// One GET of `path` through a clone of `app`: the status and the body.
async fn get(app: &Router, path: &str) -> Result<(StatusCode, String), String> {
    let request = Request::get(path)
        .body(Body::empty())
        .map_err(|e| format!("bad request {path}: {e}"))?;
    let response = app
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT)
        .await
        .map_err(|e| format!("GET {path}: cannot read the body: {e}"))?;
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

fn first_chars(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

/// The figures of one page: see [`super::timed_figures`].
fn summarize(metrics: [&'static str; 3], path: &str, times: &[f64]) -> Vec<Figure> {
    super::timed_figures(&format!("GET {path}"), metrics, times, TARGET_MS)
}
