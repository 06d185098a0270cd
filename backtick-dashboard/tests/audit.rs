//! Every action that changes something writes one audit line; pages write none.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use backtick_dashboard::DashboardConfig;
use support::Dash;

/// A writer into a shared buffer, for the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn audit_lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .filter(|l| l.contains("backtick_dashboard::audit"))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn each_action_writes_one_audit_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dash = Dash::new(DashboardConfig::default()).await;
    dash.page("/").await;
    dash.page("/jobs").await;
    assert!(captured.audit_lines().is_empty(), "pages are not audited");

    dash.post(&format!("/jobs/{}/action", dash.scene.dead), &[("op", "retry")])
        .await;
    dash.post("/queues/action", &[("queue", "mail"), ("op", "pause")]).await;
    dash.post(
        "/jobs/bulk",
        &[("op", "retry:filter"), ("state", "dead"), ("confirm", "yes")],
    )
    .await;
    let lines = captured.audit_lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].contains("action=\"retry\"") && lines[0].contains(&format!("job {}", dash.scene.dead)));
    assert!(lines[1].contains("action=\"pause\"") && lines[1].contains("on=\"mail\""));
    assert!(lines[2].contains("every job matching state=dead") && lines[2].contains("touched=2"));
}
