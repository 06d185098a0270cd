//! Every page renders 200 with the seeded data visible, filters narrow, pages follow.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use backtick_core::{NewJob, QueueStore};
use backtick_dashboard::{CONTENT_SECURITY_POLICY_VALUE, DashboardConfig};
use support::Dash;

#[tokio::test]
async fn the_overview_shows_counts_per_state_runners_throughput_and_queues() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let page = dash.page("/").await;
    for (state, count) in [
        ("queued", 3),
        ("running", 1),
        ("done", 8),
        ("dead", 3),
        ("cancelled", 1),
    ] {
        let card = format!("data-count=\"{state}\">{count}<");
        assert!(page.contains(&card), "{card} missing");
    }
    assert!(page.contains("data-count=\"runners\">1<"), "one runner alive");
    assert!(page.contains("1 stale"));
    // The report jobs finished over the hour; the send_mail jobs just now.
    assert!(page.contains("8 done, 3 dead"), "throughput over the last hour");
    assert!(page.contains("1 dead, 51 min ago"), "the dead report job's minute");
    assert_eq!(page.matches("class=\"bar-done\"").count(), 8);
    assert!(page.contains(">images<") && page.contains("badge-paused"));
}

#[tokio::test]
async fn the_jobs_page_has_state_tabs_filters_in_the_url_and_keyset_pages() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let s = &dash.scene;
    let all = dash.page("/jobs").await;
    for id in [s.done, s.dead, s.running, s.queued, s.later, s.cancelled] {
        assert!(all.contains(&format!("href=\"/jobs/{id}\"")), "job {id} listed");
    }
    assert!(all.contains("aria-current=\"page\">all"));

    let dead = dash.page("/jobs?state=dead&worker=send_mail").await;
    assert!(dead.contains(&format!("href=\"/jobs/{}\"", s.dead)));
    assert!(dead.contains(&format!("href=\"/jobs/{}\"", s.dead_again)));
    assert!(!dead.contains(&format!("href=\"/jobs/{}\"", s.done)), "filtered out");
    assert!(dead.contains("value=\"send_mail\""), "the filter stays in the form");
    assert!(
        dead.contains("href=\"/jobs?state=queued&#38;worker=send_mail\""),
        "tabs keep the filter"
    );

    let by_args = dash.page("/jobs?args=%7B%22to%22%3A%22bob%40example.com%22%7D").await;
    assert!(by_args.contains(&format!("href=\"/jobs/{}\"", s.dead)));
    assert!(!by_args.contains(&format!("href=\"/jobs/{}\"", s.dead_again)));
    let by_error = dash.page("/jobs?error=TIMEOUT").await;
    assert!(by_error.contains(&format!("href=\"/jobs/{}\"", s.retrying)));
    assert!(!by_error.contains(&format!("href=\"/jobs/{}\"", s.dead)));
    let by_id = dash.page(&format!("/jobs?id={}", s.queued)).await;
    assert!(by_id.contains(&format!("href=\"/jobs/{}\"", s.queued)));
    assert!(!by_id.contains(&format!("href=\"/jobs/{}\"", s.later)));
    let by_queue = dash.page("/jobs?queue=images").await;
    assert!(by_queue.contains(&format!("href=\"/jobs/{}\"", s.later)));
    assert!(!by_queue.contains(&format!("href=\"/jobs/{}\"", s.queued)));

    assert_eq!(dash.get("/jobs?args=%7Bnope").await.status, 400);
    assert_eq!(dash.get("/jobs?state=sleeping").await.status, 400);

    // 60 more jobs: the first page holds 50 and links the next, which holds the rest.
    for n in 0..60 {
        dash.store
            .enqueue(NewJob::new("bulk_probe", &n).unwrap().queue("probe"), None)
            .await
            .unwrap();
    }
    let first = dash.page("/jobs?worker=bulk_probe").await;
    assert_eq!(first.matches("name=\"job\"").count(), 50);
    let next = first
        .split("href=\"/jobs?")
        .find_map(|rest| rest.split_once("\" rel=\"next\"").map(|(q, _)| q.replace("&#38;", "&")))
        .expect("a next link");
    assert!(next.contains("worker=bulk_probe") && next.contains("cursor="), "{next}");
    let second = dash.page(&format!("/jobs?{next}")).await;
    assert_eq!(second.matches("name=\"job\"").count(), 10);
    assert!(second.contains("first page"));
}

#[tokio::test]
async fn the_job_page_shows_args_timeline_attempts_and_actions() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let page = dash.page(&format!("/jobs/{}", dash.scene.dead)).await;
    assert!(page.contains("&#34;to&#34;: &#34;bob@example.com&#34;"), "args as JSON");
    assert!(
        page.contains("outcome-failed") && page.contains("outcome-dead"),
        "both attempts"
    );
    assert!(page.contains("smtp: timeout") && page.contains("smtp: connection refused"));
    assert!(page.contains("attempt 1 started by r9"), "timeline");
    assert!(page.contains("value=\"retry\"") && page.contains("value=\"delete\""));
    assert!(
        !page.contains("value=\"cancel\""),
        "cancel does not apply to a dead job"
    );

    let running = dash.page(&format!("/jobs/{}", dash.scene.running)).await;
    assert!(running.contains("held by"), "lease");
    assert!(running.contains(">r1<"));
    assert_eq!(dash.get("/jobs/999999").await.status, 404);
}

#[tokio::test]
async fn queues_cron_runners_and_errors_show_what_is_seeded() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let queues = dash.page("/queues").await;
    assert!(queues.contains(">mail<") && queues.contains(">images<") && queues.contains("badge-paused"));
    assert!(queues.contains("value=\"resume\"") && queues.contains("value=\"pause\""));

    let cron = dash.page("/cron").await;
    for text in [
        "nightly-report",
        "Europe/Paris",
        "legacy-sync",
        "every 5m",
        "badge-stale",
        "value=\"run-now\"",
    ] {
        assert!(cron.contains(text), "{text} missing from the cron page");
    }

    let runners = dash.page("/runners").await;
    for text in [">r1<", ">r0<", "badge-stale", "badge-ok", "send_mail, resize, report"] {
        assert!(runners.contains(text), "{text} missing from the runners page");
    }

    let errors = dash.page("/errors").await;
    let group = errors.split("smtp: connection refused").nth(1).expect("the group");
    assert!(group.contains("<td class=\"num\">2</td>"), "two dead jobs in one group");
    assert!(errors.contains("smtp: timeout"), "the retrying job's group");
    assert!(errors.contains("report: template missing"));
}

#[tokio::test]
async fn every_response_has_the_csp_and_healthz_answers_ok() {
    let dash = Dash::new(DashboardConfig::default()).await;
    for path in [
        "/",
        "/jobs",
        "/queues",
        "/cron",
        "/runners",
        "/errors",
        "/assets/app.css",
        "/healthz",
    ] {
        let reply = dash.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.headers.get("content-security-policy").unwrap(),
            CONTENT_SECURITY_POLICY_VALUE,
            "{path}"
        );
        assert_eq!(reply.headers.get("x-frame-options").unwrap(), "DENY");
    }
    assert_eq!(dash.get("/healthz").await.body, "ok");
    let page = dash.page("/jobs").await;
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "no inline script or style"
    );
    assert!(CONTENT_SECURITY_POLICY_VALUE.contains("default-src 'self'"));
    assert!(!CONTENT_SECURITY_POLICY_VALUE.contains("unsafe-inline"));
}

#[tokio::test]
async fn a_jobs_page_cut_short_by_the_scan_bound_says_so_and_links_on() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let noise: Vec<NewJob> = (0..10_050).map(|_| NewJob::new("noise", &()).unwrap()).collect();
    dash.store.enqueue_many(noise, None).await.unwrap();
    // The newest 10,000 jobs are all noise: the first page of send_mail's jobs examines them
    // and stops.
    let page = dash.page("/jobs?worker=send_mail").await;
    assert!(
        page.contains("The search stopped after examining 10000 jobs"),
        "the page says its search stopped"
    );
    assert!(page.contains("rel=\"next\""), "and links to where it continues");
    let plain = dash.page("/jobs?state=dead").await;
    assert!(!plain.contains("The search stopped"), "a complete page says nothing");
}
