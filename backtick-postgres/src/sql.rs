//! The statements `PgStore` runs: one shared copy in `backtick_pg_common::sql`, beside the
//! schema they are written against, with the admin schema's versions of the fenced writes,
//! the operator's cancel and retry, and the schedule fire from `backtick_pg_common::admin_sql`.

pub(crate) use backtick_pg_common::admin_sql::{ADVANCE_SCHEDULE, CANCEL, FINISH, RETRY, REVIVE};
pub(crate) use backtick_pg_common::sql::*;
