//! `backtick serve`: the app it builds (auth from the environment, the loopback rule, the
//! prefix) in-process, and the binary on a real database printing the port it got.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod pg;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use backtick_cli::commands::serve::{AuthScheme, ServeArgs, app, check};
use backtick_core::QueueAdmin;
use backtick_testkit::MemoryStore;
use backtick_testkit::pgsuite::TestDatabase;
use tower::ServiceExt;

use pg::Served;

fn args(listen: &str) -> ServeArgs {
    ServeArgs {
        listen: listen.parse().unwrap(),
        read_only: false,
        auth: None,
        prefix: None,
        metrics_interval: std::time::Duration::from_secs(15),
    }
}

fn admin() -> Arc<dyn QueueAdmin> {
    Arc::new(MemoryStore::new())
}

async fn status(app: axum::Router, request: Request<Body>) -> u16 {
    app.oneshot(request).await.unwrap().status().as_u16()
}

#[test]
fn a_non_loopback_address_needs_auth() {
    let error = check(&args("0.0.0.0:8080")).unwrap_err().one_line();
    assert!(
        error.contains("refusing to serve the dashboard on 0.0.0.0:8080 without --auth"),
        "{error}"
    );
    assert!(check(&args("127.0.0.1:8080")).is_ok());
    assert!(check(&args("[::1]:8080")).is_ok());
    let with_auth = ServeArgs {
        auth: Some(AuthScheme::Bearer),
        ..args("0.0.0.0:8080")
    };
    assert!(check(&with_auth).is_ok());
    let bad_prefix = ServeArgs {
        prefix: Some("admin/".into()),
        ..args("127.0.0.1:0")
    };
    assert!(check(&bad_prefix).is_err());
}

#[tokio::test]
async fn auth_reads_its_credentials_from_the_environment() {
    let basic = ServeArgs {
        auth: Some(AuthScheme::Basic),
        ..args("127.0.0.1:0")
    };
    let missing = app(admin(), &basic, |_| None).unwrap_err().one_line();
    assert!(missing.contains("--auth basic needs BT_DASHBOARD_USER"), "{missing}");
    let env = |name: &str| match name {
        "BT_DASHBOARD_USER" => Some("ops".to_owned()),
        "BT_DASHBOARD_PASSWORD" => Some("pw".to_owned()),
        _ => None,
    };
    let served = app(admin(), &basic, env).unwrap();
    let anonymous = Request::get("/").header("host", "x").body(Body::empty()).unwrap();
    assert_eq!(status(served.clone(), anonymous).await, 401);
    let signed_in = Request::get("/")
        .header("host", "x")
        .header("authorization", "Basic b3BzOnB3") // ops:pw
        .body(Body::empty())
        .unwrap();
    assert_eq!(status(served, signed_in).await, 200);

    let bearer = ServeArgs {
        auth: Some(AuthScheme::Bearer),
        ..args("127.0.0.1:0")
    };
    let token = |name: &str| (name == "BT_DASHBOARD_TOKEN").then(|| "t0ken".to_owned());
    let served = app(admin(), &bearer, token).unwrap();
    let anonymous = Request::get("/jobs").body(Body::empty()).unwrap();
    assert_eq!(status(served, anonymous).await, 401);
}

#[tokio::test]
async fn a_prefix_nests_the_dashboard_and_the_root_redirects_to_it() {
    let nested = ServeArgs {
        prefix: Some("/admin/jobs".into()),
        ..args("127.0.0.1:0")
    };
    let served = app(admin(), &nested, |_| None).unwrap();
    let root = served
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(root.headers().get("location").unwrap(), "/admin/jobs");
    assert_eq!(
        status(served.clone(), Request::get("/admin/jobs").body(Body::empty()).unwrap()).await,
        200
    );
    assert_eq!(
        status(served, Request::get("/admin/jobs/queues").body(Body::empty()).unwrap()).await,
        200
    );
}

/// The binary on a migrated database of its own: port 0 prints the real port, `/healthz`
/// answers there; a non-loopback address without auth exits 1 before connecting.
#[tokio::test]
async fn the_binary_prints_the_port_it_listens_on() {
    let refused = Command::new(env!("CARGO_BIN_EXE_backtick"))
        .args([
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "serve",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("without --auth"));

    let db = TestDatabase::<pg::Sqlx>::migrated().await;
    let served = Served::start(&db.url(), &[]);
    let address = host_port(&served.url);
    assert!(!address.ends_with(":0"), "the real port: {address}");
    let response = get(address, "/healthz");
    drop(served);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
}

/// One sample of a Prometheus text page: name, labels (sorted as written), value.
fn samples(page: &str) -> Vec<(String, String, f64)> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let value = value.parse().unwrap_or_else(|_| panic!("{line}"));
            (name.to_owned(), labels.trim_end_matches('}').to_owned(), value)
        })
        .collect()
}

/// `host:port` of a served URL, for raw HTTP requests.
fn host_port(url: &str) -> &str {
    let authority = url.trim_start_matches("http://");
    authority.split('/').next().unwrap_or(authority)
}

fn get(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The binary on a database with seeded jobs: `/metrics` is Prometheus text whose collector
/// gauges count those jobs per queue and state, and show the due job's lag and no runner.
#[tokio::test]
async fn the_binary_serves_prometheus_metrics_of_the_seeded_queue() {
    use backtick_core::{NewJob, RunAt};
    let db = TestDatabase::<pg::Sqlx>::migrated().await;
    let store = db.store().await;
    let job = |queue: &str| {
        let mut job = NewJob::new("mail", &1_i64).unwrap();
        job.queue = queue.into();
        job
    };
    let mut later = job("reports");
    later.run_at = Some(RunAt::After(std::time::Duration::from_secs(3600)));
    store
        .enqueue_many(vec![job("mail"), job("mail"), job("mail"), later])
        .await
        .unwrap();
    let served = Served::start(&db.url(), &["--metrics-interval", "100ms"]);
    let address = host_port(&served.url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (response, page) = loop {
        let response = get(address, "/metrics");
        let page = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        if page.contains("backtick_runners_alive") || std::time::Instant::now() > deadline {
            break (response, page);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(served);
    // The page as scraped (seen with `--nocapture`).
    println!("{page}");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{response}"
    );
    let samples = samples(&page);
    let value = |name: &str, labels: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("no {name}{{{labels}}} in:\n{page}"))
    };
    assert_eq!(value("backtick_queue_jobs", r#"queue="mail",state="queued""#), 3.0);
    assert_eq!(value("backtick_queue_jobs", r#"queue="mail",state="running""#), 0.0);
    assert_eq!(value("backtick_queue_jobs", r#"queue="reports",state="queued""#), 1.0);
    assert!(value("backtick_queue_lag_seconds", r#"queue="mail""#) >= 0.0);
    assert_eq!(
        value("backtick_queue_lag_seconds", r#"queue="reports""#),
        0.0,
        "not due yet"
    );
    assert_eq!(value("backtick_runners_alive", ""), 0.0);
    assert!(page.contains("# TYPE backtick_queue_jobs gauge"), "{page}");
}
