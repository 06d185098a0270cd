//! Read-only mode, the authorize hook, basic and bearer auth, the same-origin check, and a
//! nested mount point.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use backtick_core::JobState;
use backtick_dashboard::{Access, DashboardConfig, auth};
use base64::Engine;
use support::{Dash, get};

const PAGES: [&str; 6] = ["/", "/jobs", "/queues", "/cron", "/runners", "/errors"];

#[tokio::test]
async fn read_only_hides_every_action_and_answers_403_to_them() {
    let dash = Dash::new(DashboardConfig::default().read_only(true)).await;
    for path in PAGES
        .iter()
        .map(|p| p.to_string())
        .chain([format!("/jobs/{}", dash.scene.dead)])
    {
        let page = dash.page(&path).await;
        assert!(!page.contains("method=\"post\""), "{path} shows an action");
        assert!(page.contains("read-only"), "{path} says it is read-only");
    }
    let retry = dash
        .post(&format!("/jobs/{}/action", dash.scene.dead), &[("op", "retry")])
        .await;
    assert_eq!(retry.status, 403);
    let pause = dash.post("/queues/action", &[("queue", "mail"), ("op", "pause")]).await;
    assert_eq!(pause.status, 403);
    assert_eq!(dash.state_of(dash.scene.dead).await, Some(JobState::Dead));
}

#[tokio::test]
async fn the_authorize_hook_decides_per_request() {
    let config = DashboardConfig::default().authorize(|parts| match parts.headers.get("x-role") {
        Some(role) if role == "operator" => Access::Full,
        Some(role) if role == "viewer" => Access::ReadOnly,
        _ => Access::Forbidden,
    });
    let dash = Dash::new(config).await;
    assert_eq!(dash.get("/").await.status, 403, "no role: forbidden");
    assert_eq!(
        dash.post("/queues/action", &[("queue", "mail"), ("op", "pause")])
            .await
            .status,
        403
    );
    let viewer = dash
        .send(get("/jobs").header("x-role", "viewer").body(Body::empty()).unwrap())
        .await;
    assert_eq!(viewer.status, 200);
    assert!(!viewer.body.contains("method=\"post\""));
    let operator = dash
        .send(get("/jobs").header("x-role", "operator").body(Body::empty()).unwrap())
        .await;
    assert!(operator.body.contains("method=\"post\""));
    assert_eq!(dash.get("/healthz").await.status, 200, "health needs no access");
}

#[tokio::test]
async fn basic_and_bearer_auth_answer_401_without_credentials() {
    let basic = Dash::new(DashboardConfig::default().authorize(auth::basic("ops", "pw", Access::Full))).await;
    let anonymous = basic.get("/").await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let credentials = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ops:pw"));
    let signed_in = basic
        .send(
            get("/")
                .header("authorization", credentials)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(signed_in.status, 200);
    let wrong = basic
        .send(
            get("/")
                .header("authorization", "Basic b3BzOm5v")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(wrong.status, 401);

    let bearer = Dash::new(DashboardConfig::default().authorize(auth::bearer("t0ken", Access::ReadOnly))).await;
    assert_eq!(bearer.get("/jobs").await.status, 401);
    let with_token = bearer
        .send(
            get("/jobs")
                .header("authorization", "Bearer t0ken")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(with_token.status, 200);
    assert!(
        !with_token.body.contains("method=\"post\""),
        "the token grants read-only"
    );
}

#[tokio::test]
async fn a_cross_origin_post_is_refused() {
    let dash = Dash::new(DashboardConfig::default()).await;
    let path = format!("/jobs/{}/action", dash.scene.dead);
    let evil = dash
        .post_from(&path, &[("op", "retry")], Some("http://evil.example"))
        .await;
    assert_eq!(evil.status, 403);
    let bare = dash.post_from(&path, &[("op", "retry")], None).await;
    assert_eq!(bare.status, 403, "neither Origin nor Referer");
    assert_eq!(dash.state_of(dash.scene.dead).await, Some(JobState::Dead));
    assert_eq!(dash.post(&path, &[("op", "retry")]).await.status, 303);
}

#[tokio::test]
async fn nested_under_a_prefix_every_link_and_redirect_keeps_it() {
    let dash = Dash::nested("/admin/jobs", DashboardConfig::default()).await;
    let overview = dash.page("/admin/jobs").await;
    assert!(overview.contains("href=\"/admin/jobs/assets/app.css?v="));
    assert!(overview.contains("href=\"/admin/jobs/jobs?state=dead\""));
    for path in PAGES {
        let page = dash.page(&format!("/admin/jobs{}", path.trim_end_matches('/'))).await;
        assert!(!page.contains("href=\"/jobs"), "{path} links outside the prefix");
    }
    assert_eq!(dash.get("/admin/jobs/assets/app.js").await.status, 200);
    let pause = dash
        .post("/admin/jobs/queues/action", &[("queue", "mail"), ("op", "pause")])
        .await;
    assert_eq!(pause.location(), "/admin/jobs/queues?did=pause&on=mail");
}
