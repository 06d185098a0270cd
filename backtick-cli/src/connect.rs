//! The one place that opens a database: the url from the flag or the environment, a
//! [`PgStore`], the schema check, and the store as the `Arc<dyn QueueAdmin>` every command
//! runs on.

use std::sync::Arc;

use backtick_core::QueueAdmin;
use backtick_postgres::PgStore;
use backtick_postgres::backtick_pg_common::url_from_env;

use crate::error::CliError;

/// The database url: `flag` (`--database-url`) when given, else `BT_DATABASE_URL`, else
/// `DATABASE_URL`.
///
/// # Errors
/// [`CliError::Connect`] naming both variables when none is set.
pub fn database_url(flag: Option<&str>) -> Result<String, CliError> {
    match flag.filter(|url| !url.trim().is_empty()) {
        Some(url) => Ok(url.to_owned()),
        None => Ok(url_from_env()?.1),
    }
}

/// Connect to `url` without checking the schema: what `backtick migrate` needs.
///
/// # Errors
/// [`CliError::Connect`] for a malformed url (never showing the password), an unreachable
/// server (naming host and port) or a refusal (the server's reason).
pub async fn connect_store(url: &str) -> Result<PgStore, CliError> {
    Ok(PgStore::connect(url).await?)
}

/// Connect to `url`, check that every migration of this build is applied, and return the
/// store as the admin API every command (but `migrate` and `cron next`) runs on.
///
/// # Errors
/// As [`connect_store`]; [`CliError::NotMigrated`] when the schema is missing or older
/// than this build.
pub async fn connect(url: &str) -> Result<Arc<dyn QueueAdmin>, CliError> {
    let store = connect_store(url).await?;
    store.check_schema().await.map_err(CliError::from_schema_check)?;
    pg_admin(store)
}

/// The [`PgStore`] as an `Arc<dyn QueueAdmin>`.
///
/// # Errors
/// None today; a `Result` so that a store that cannot serve the admin API can say so.
fn pg_admin(store: PgStore) -> Result<Arc<dyn QueueAdmin>, CliError> {
    Ok(Arc::new(store))
}
