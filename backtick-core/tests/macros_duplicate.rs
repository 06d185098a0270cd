//! Two annotated workers with one name: discovery fails at start-up with a clear error. In its
//! own test binary, because the clash would break discovery for every other test.

use std::sync::Arc;

use backtick_core::{Error, Registry, RegistryError, Runner};
use backtick_testkit::MemoryStore;

mod billing {
    #[backtick_core::worker(name = "send_invoice")]
    pub(crate) async fn send_invoice(invoice: u64) {
        let _ = invoice;
    }
}

mod legacy {
    #[backtick_core::worker(name = "send_invoice")]
    pub(crate) async fn send_invoice(invoice: String) {
        let _ = invoice;
    }
}

#[test]
fn two_workers_with_one_name_fail_discovery() {
    let error = Registry::discovered().expect_err("the names clash");
    assert_eq!(error, RegistryError::Duplicate("send_invoice".to_owned()));
    assert!(
        error.to_string().contains("two workers are named \"send_invoice\""),
        "{error}"
    );
}

#[test]
fn a_runner_with_clashing_workers_does_not_start() {
    let builder = Runner::builder(Arc::new(MemoryStore::new()));
    // Registrations chain; the clash is reported by `build`.
    let error = builder
        .discovered()
        .concurrency(4)
        .build()
        .err()
        .expect("the names clash");
    assert!(
        matches!(error, Error::Registry(RegistryError::Duplicate(ref name)) if name == "send_invoice"),
        "{error}"
    );
}

#[test]
fn explicit_registration_still_works_for_each_of_them() {
    let mut registry = Registry::new();
    registry.register(billing::send_invoice::worker()).expect("first");
    assert_eq!(
        registry.register(legacy::send_invoice::worker()),
        Err(RegistryError::Duplicate("send_invoice".to_owned()))
    );
}
