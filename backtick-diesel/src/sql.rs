//! The statements `DieselStore` runs: one shared copy in `backtick_migrations::sql`, beside the
//! schema they are written against.

pub(crate) use backtick_migrations::sql::*;
