//! Every action changes the store, and answers with a redirect carrying its notice.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use backtick_core::admin::{QueueAdmin, ScheduleInfo};
use backtick_core::{JobState, QueueStore};
use backtick_dashboard::DashboardConfig;
use support::Dash;

#[tokio::test]
async fn job_actions_retry_cancel_run_now_and_delete() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let s = dash.scene.clone();

    let retry = dash.post(&format!("/jobs/{}/action", s.dead), &[("op", "retry")]).await;
    assert_eq!(retry.status, 303);
    assert_eq!(
        retry.location(),
        format!("/jobs/{}?did=retry&on=job+{}", s.dead, s.dead)
    );
    assert_eq!(dash.state_of(s.dead).await, Some(JobState::Queued));
    assert!(
        dash.page(retry.location())
            .await
            .contains(&format!("Retried job {}.", s.dead))
    );

    dash.post(&format!("/jobs/{}/action", s.queued), &[("op", "cancel")])
        .await;
    assert_eq!(dash.state_of(s.queued).await, Some(JobState::Cancelled));

    let cancel_running = dash
        .post(&format!("/jobs/{}/action", s.running), &[("op", "cancel")])
        .await;
    assert!(cancel_running.location().contains("did=cancel-requested"));
    assert_eq!(dash.store.cancel_requests(&[s.running]).await.unwrap().len(), 1);

    let before = dash.store.get(s.later).await.unwrap().unwrap().run_at;
    dash.post(&format!("/jobs/{}/action", s.later), &[("op", "run-now")])
        .await;
    assert!(dash.store.get(s.later).await.unwrap().unwrap().run_at < before);

    let delete = dash
        .post(&format!("/jobs/{}/action", s.done), &[("op", "delete")])
        .await;
    assert!(delete.location().starts_with("/jobs?did=delete"));
    assert_eq!(dash.state_of(s.done).await, None);

    let refused = dash
        .post(&format!("/jobs/{}/action", s.cancelled), &[("op", "run-now")])
        .await;
    assert_eq!(refused.status, 400, "run-now does not apply to a cancelled job");
    assert_eq!(dash.post("/jobs/1/action", &[("op", "explode")]).await.status, 400);
}

#[tokio::test]
async fn a_bulk_action_previews_its_count_then_applies_once_confirmed() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let s = dash.scene.clone();
    let form = [("op", "retry:filter"), ("state", "dead"), ("worker", "send_mail")];
    let preview = dash.post("/jobs/bulk", &form).await;
    assert_eq!(preview.status, 200);
    assert!(preview.body.contains("data-preview-count>2<"), "{}", preview.body);
    assert!(preview.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        dash.state_of(s.dead).await,
        Some(JobState::Dead),
        "a preview changes nothing"
    );

    let confirmed = [form.as_slice(), &[("confirm", "yes")]].concat();
    let applied = dash.post("/jobs/bulk", &confirmed).await;
    assert_eq!(applied.status, 303);
    assert_eq!(applied.location(), "/jobs?state=dead&worker=send_mail&did=retry&n=2");
    assert_eq!(dash.state_of(s.dead).await, Some(JobState::Queued));
    assert_eq!(dash.state_of(s.dead_again).await, Some(JobState::Queued));
    assert_eq!(
        dash.state_of(s.finished_last_hour[7]).await,
        Some(JobState::Dead),
        "other worker"
    );

    let selected = [
        ("op", "cancel:selected"),
        ("job", &s.queued.to_string()),
        ("job", &s.later.to_string()),
        ("confirm", "yes"),
    ];
    let selected: Vec<(&str, &str)> = selected.iter().map(|(k, v)| (*k, &**v)).collect();
    assert_eq!(dash.post("/jobs/bulk", &selected).await.status, 303);
    assert_eq!(dash.state_of(s.queued).await, Some(JobState::Cancelled));
    assert_eq!(dash.state_of(s.later).await, Some(JobState::Cancelled));
    assert_eq!(
        dash.post("/jobs/bulk", &[("op", "retry:selected")]).await.status,
        400,
        "nothing selected"
    );
}

#[tokio::test]
async fn a_bulk_action_beyond_the_cap_is_refused() {
    let dash = Dash::new(DashboardConfig::default().bulk_cap(1)).await;
    let form = [("op", "retry:filter"), ("state", "dead"), ("confirm", "yes")];
    let reply = dash.post("/jobs/bulk", &form).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("more than the dashboard's limit of 1 jobs"));
    assert!(!reply.body.contains("value=\"yes\""), "no confirm button");
    assert_eq!(dash.state_of(dash.scene.dead).await, Some(JobState::Dead));
}

#[tokio::test]
async fn queues_pause_and_resume() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let paused = dash.post("/queues/action", &[("queue", "mail"), ("op", "pause")]).await;
    assert_eq!(paused.location(), "/queues?did=pause&on=mail");
    let mail = |queues: Vec<backtick_core::admin::QueueInfo>| queues.into_iter().find(|q| q.name == "mail").unwrap();
    assert!(mail(dash.store.list_queues(None).await.unwrap()).is_paused());
    dash.post("/queues/action", &[("queue", "mail"), ("op", "resume")])
        .await;
    assert!(!mail(dash.store.list_queues(None).await.unwrap()).is_paused());
    let unknown = dash.post("/queues/action", &[("queue", "nope"), ("op", "pause")]).await;
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn schedules_pause_resume_run_now_and_remove() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let schedule = |name: &'static str| {
        let store = dash.store.clone();
        async move {
            let all: Vec<ScheduleInfo> = store.list_schedules(None).await.unwrap();
            all.into_iter().find(|s| s.name == name)
        }
    };
    dash.post("/cron/action", &[("name", "nightly-report"), ("op", "pause")])
        .await;
    assert!(schedule("nightly-report").await.unwrap().paused_at.is_some());
    dash.post("/cron/action", &[("name", "nightly-report"), ("op", "resume")])
        .await;
    assert!(schedule("nightly-report").await.unwrap().paused_at.is_none());
    let run = dash
        .post("/cron/action", &[("name", "nightly-report"), ("op", "run-now")])
        .await;
    assert!(run.location().contains("did=run-now"));
    assert!(schedule("nightly-report").await.unwrap().run_requested_at.is_some());
    dash.post("/cron/action", &[("name", "legacy-sync"), ("op", "remove")])
        .await;
    assert!(schedule("legacy-sync").await.is_none(), "the stale schedule is gone");
    let in_use = dash
        .post("/cron/action", &[("name", "nightly-report"), ("op", "remove")])
        .await;
    assert_eq!(in_use.status, 400, "a live runner declares it");
}

#[tokio::test]
async fn an_error_group_is_retried_or_discarded_whole() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let s = dash.scene.clone();
    let group = [
        ("worker", "send_mail"),
        ("message", "smtp: connection refused"),
        ("op", "retry"),
    ];
    let preview = dash.post("/errors/action", &group).await;
    assert!(preview.body.contains("data-preview-count>2<"), "{}", preview.body);
    let confirmed = [group.as_slice(), &[("confirm", "yes")]].concat();
    let retried = dash.post("/errors/action", &confirmed).await;
    assert_eq!(retried.location(), "/errors?did=retry&n=2");
    assert_eq!(dash.state_of(s.dead).await, Some(JobState::Queued));
    assert_eq!(dash.state_of(s.dead_again).await, Some(JobState::Queued));

    let discard = [
        ("worker", "send_mail"),
        ("message", "smtp: timeout"),
        ("op", "discard"),
        ("confirm", "yes"),
    ];
    // The retried jobs failed with "smtp: connection refused" last; "smtp: timeout" is the
    // retrying job's group, now alone.
    let discarded = dash.post("/errors/action", &discard).await;
    assert_eq!(discarded.location(), "/errors?did=discard&n=1");
    assert_eq!(dash.state_of(s.retrying).await, Some(JobState::Cancelled));
}
