//! What an application calls on the store: [`QueueStore`]'s job calls without its test clock.
//!
//! [`QueueStore`]'s methods take `now: Option<Timestamp>` so that tests (the conformance suite,
//! `backtick-testkit`) can run the queue on a clock of their own; an application always passes
//! `None`, the database's clock. These inherent methods are those calls without it. Through an
//! `Arc<dyn QueueStore>` or a generic `S: QueueStore`, the trait's methods are the ones called.

use backtick_core::{Enqueued, JobId, NewJob, QueueStore, StoreError};

use crate::PgStore;

backtick_pg_common::application_calls!(PgStore, "backtick_postgres");
