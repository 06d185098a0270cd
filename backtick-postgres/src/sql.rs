//! The statements `PgStore` runs: one shared copy in `backtick_pg_common::sql`, beside the
//! schema they are written against.

pub(crate) use backtick_pg_common::sql::*;
