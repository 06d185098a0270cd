//! The few statements the testkit itself sends: is the server up, create, migrate and drop a
//! database. Through tokio-postgres, the driver under diesel-async, because the testkit cannot
//! use a backend crate: the backends depend on it for their tests.

use std::time::Duration;

use async_trait::async_trait;
use backtick_pg_common::{Applied, BoxError, MigrationConnection, Migrator};
use chrono::{DateTime, Utc};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::TestDbError;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to `url`, its I/O driven by a task on the current runtime until the client drops.
pub(crate) async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        // Ends with an error when the server goes away: the client's next call reports it.
        let _ = connection.await;
    });
    Ok(client)
}

/// Whether the server at `url` accepts a connection and answers a query.
pub(crate) async fn answers(url: &str) -> bool {
    match connect(url).await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

/// Applies every backtick migration to the database at `url`, as `PgStore::migrate` and
/// `DieselStore::migrate` do (same runner, same bookkeeping), so their `migrate` is a no-op.
pub(crate) async fn migrate(url: &str) -> Result<(), TestDbError> {
    let client = connect(url)
        .await
        .map_err(|e| database_error("connect to migrate", &e))?;
    Migrator::new()
        .run(&mut Migrating(&client))
        .await
        .map_err(|e| TestDbError::Database {
            action: "migrate the test database",
            message: e.to_string(),
        })?;
    Ok(())
}

/// Creates database `name` on the server at `server_url`.
pub(crate) async fn create_database(server_url: &str, name: &str) -> Result<(), TestDbError> {
    let client = connect(server_url)
        .await
        .map_err(|e| database_error("connect to the test server", &e))?;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| database_error("create the test database", &e))
}

/// Drops database `name` on the server at `server_url`, ending its open connections.
pub(crate) async fn drop_database(server_url: &str, name: &str) -> Result<(), TestDbError> {
    let client = connect(server_url)
        .await
        .map_err(|e| database_error("connect to the test server", &e))?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .map_err(|e| database_error("drop the test database", &e))
}

fn database_error(action: &'static str, error: &tokio_postgres::Error) -> TestDbError {
    // `Display` of a server error is only "db error": the detail is in its source.
    let message = match error.as_db_error() {
        Some(db) => format!("{error}: {db}"),
        None => error.to_string(),
    };
    TestDbError::Database { action, message }
}

/// A tokio-postgres client as the migration runner's connection: one session, simple queries.
struct Migrating<'a>(&'a Client);

#[async_trait]
impl MigrationConnection for Migrating<'_> {
    async fn execute(&mut self, sql: &str) -> Result<(), BoxError> {
        Ok(self.0.batch_execute(sql).await?)
    }

    async fn query_applied(&mut self, sql: &str) -> Result<Vec<Applied>, BoxError> {
        let mut applied = Vec::new();
        for message in self.0.simple_query(sql).await? {
            if let SimpleQueryMessage::Row(row) = message {
                let text = |column: &str| -> Result<String, BoxError> {
                    Ok(row
                        .try_get(column)?
                        .ok_or_else(|| format!("{column} is null"))?
                        .to_owned())
                };
                applied.push(Applied {
                    version: text("version")?.parse()?,
                    name: text("name")?,
                    checksum: text("checksum")?,
                    applied_at: parse_timestamptz(&text("applied_at")?)?,
                });
            }
        }
        Ok(applied)
    }
}

/// A `timestamptz` in PostgreSQL's text output (ISO style), e.g. `2024-05-01 12:00:00.5+02`.
fn parse_timestamptz(text: &str) -> Result<DateTime<Utc>, BoxError> {
    Ok(DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")?.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn timestamps_parse_with_and_without_fractions_and_minutes_of_offset() {
        let utc = |text| parse_timestamptz(text).unwrap().to_rfc3339();
        assert_eq!(utc("2024-05-01 12:00:00.5+02"), "2024-05-01T10:00:00.500+00:00");
        assert_eq!(utc("2024-05-01 12:00:00+00"), "2024-05-01T12:00:00+00:00");
        assert_eq!(
            utc("2024-05-01 12:00:00.123456+05:30"),
            "2024-05-01T06:30:00.123456+00:00"
        );
    }
}
