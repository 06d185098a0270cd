//! The runner: apply pending migrations, revert the last one, report status. Backend-agnostic:
//! each backend implements [`MigrationConnection`] over one of its connections.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::{BoxError, MigrateError};
use super::file_name::Direction;
use super::migration::{Migration, check_list, migrations};

/// The key of the session-level advisory lock (`pg_advisory_lock`) every runner holds while it
/// migrates, so that many runners starting at once migrate once. ASCII "btmigrat".
pub const LOCK_KEY: i64 = 0x6274_6d69_6772_6174;

/// The table that records applied migrations.
pub const TRACKING_TABLE: &str = "backtick_migrations";

const LOCK: &str = "SELECT pg_advisory_lock(7094415612489916788)";
const UNLOCK: &str = "SELECT pg_advisory_unlock(7094415612489916788)";
const CREATE_TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS backtick_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";
const SELECT_APPLIED: &str = "SELECT version, name, checksum, applied_at FROM backtick_migrations ORDER BY version";

/// A migration recorded as applied in `backtick_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// The migration's name when it was applied.
    pub name: String,
    /// The checksum of its `up` SQL when it was applied.
    pub checksum: String,
    /// When it was applied (database clock).
    pub applied_at: DateTime<Utc>,
}

/// One database connection, as the runner needs it. Each backend implements this over its own
/// connection type (sqlx's `PgConnection`, diesel-async's `AsyncPgConnection`).
///
/// The runner holds a session-level advisory lock and issues `BEGIN`/`COMMIT` itself, so an
/// implementation must run every call on the **same** session (not a pool) and must not wrap
/// calls in transactions of its own.
///
/// # Examples
/// ```
/// use backtick_pg_common::{Applied, BoxError, MigrationConnection, async_trait};
///
/// /// A connection that runs nothing (a real one sends SQL to Postgres).
/// struct Nothing;
///
/// #[async_trait]
/// impl MigrationConnection for Nothing {
///     async fn execute(&mut self, _sql: &str) -> Result<(), BoxError> {
///         Ok(())
///     }
///     async fn query_applied(&mut self, _sql: &str) -> Result<Vec<Applied>, BoxError> {
///         Ok(Vec::new())
///     }
/// }
/// ```
#[async_trait]
pub trait MigrationConnection: Send {
    /// Run `sql`, which may hold several statements separated by `;` and has no bind
    /// parameters (Postgres' simple query protocol). Any rows are discarded.
    ///
    /// # Errors
    /// The driver's error when any statement fails.
    async fn execute(&mut self, sql: &str) -> Result<(), BoxError>;

    /// Run `sql`, a query returning the columns `version bigint, name text, checksum text,
    /// applied_at timestamptz`, and return its rows in order.
    ///
    /// # Errors
    /// The driver's error when the query fails or a row does not decode.
    async fn query_applied(&mut self, sql: &str) -> Result<Vec<Applied>, BoxError>;
}

/// Where one migration stands in a database. See [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// In this build, not applied yet.
    Pending,
    /// Applied, with the same checksum as in this build.
    Applied {
        /// When it was applied.
        at: DateTime<Utc>,
    },
    /// Applied, but its SQL in this build has changed since: [`Migrator::run`] refuses.
    Changed {
        /// When it was applied.
        at: DateTime<Utc>,
    },
    /// Applied by a newer build: this build does not know it.
    Unknown {
        /// When it was applied.
        at: DateTime<Utc>,
    },
}

/// One line of [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
}

/// Applies, reverts and reports migrations over a [`MigrationConnection`].
///
/// Every operation takes the advisory lock [`LOCK_KEY`] first (waiting for a concurrent
/// runner to finish), creates the tracking table [`TRACKING_TABLE`] if it is missing, and
/// releases the lock when done, also on error. Each migration runs in its own transaction
/// together with its bookkeeping row, so a failure leaves the schema at the last migration
/// that succeeded.
///
/// # Examples
/// ```
/// use backtick_pg_common::Migrator;
/// let migrator = Migrator::new();
/// assert_eq!(migrator.migrations(), backtick_pg_common::migrations());
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    list: Vec<Migration>,
}

impl Default for Migrator {
    fn default() -> Self {
        Self::new()
    }
}

impl Migrator {
    /// A runner for the migrations embedded in this build.
    pub fn new() -> Self {
        Migrator {
            list: migrations().to_vec(),
        }
    }

    /// A runner for a hand-built list (tests, tools).
    ///
    /// # Errors
    /// [`MigrateError::InvalidList`] when versions are not positive and strictly ascending, a
    /// name is not `[a-z0-9_]+`, or a script is empty.
    pub fn with_migrations(list: Vec<Migration>) -> Result<Self, MigrateError> {
        check_list(&list)?;
        Ok(Migrator { list })
    }

    /// The migrations this runner knows, in version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.list
    }

    /// Apply every pending migration in version order, each in its own transaction. Returns
    /// the migrations applied by this call (empty when the schema was up to date, also when
    /// a concurrent runner applied them first).
    ///
    /// # Errors
    /// [`MigrateError::ChecksumMismatch`] before anything is applied when an applied migration
    /// was changed; [`MigrateError::Failed`] when a migration's SQL fails (it is rolled back,
    /// earlier ones stay); [`MigrateError::Database`] when bookkeeping fails.
    pub async fn run<C: MigrationConnection + ?Sized>(&self, conn: &mut C) -> Result<Vec<Migration>, MigrateError> {
        lock(conn).await?;
        let result = self.run_locked(conn).await;
        release(conn, result).await
    }

    /// Revert the applied migration with the highest version. Returns it, or `None` when
    /// nothing is applied.
    ///
    /// # Errors
    /// [`MigrateError::UnknownMigration`] when this build does not contain it;
    /// [`MigrateError::ChecksumMismatch`] when it changed since it was applied;
    /// [`MigrateError::Failed`] when its down SQL fails (rolled back).
    pub async fn revert_last<C: MigrationConnection + ?Sized>(
        &self,
        conn: &mut C,
    ) -> Result<Option<Migration>, MigrateError> {
        lock(conn).await?;
        let result = self.revert_locked(conn).await;
        release(conn, result).await
    }

    /// Every migration this build knows plus every one the database recorded, by version.
    ///
    /// # Errors
    /// [`MigrateError::Database`] when the tracking table cannot be read.
    pub async fn status<C: MigrationConnection + ?Sized>(
        &self,
        conn: &mut C,
    ) -> Result<Vec<MigrationStatus>, MigrateError> {
        lock(conn).await?;
        let result = read_applied(conn).await.map(|applied| self.status_of(&applied));
        release(conn, result).await
    }

    async fn run_locked<C: MigrationConnection + ?Sized>(&self, conn: &mut C) -> Result<Vec<Migration>, MigrateError> {
        let applied = read_applied(conn).await?;
        self.verify(&applied)?;
        let done: BTreeSet<i64> = applied.iter().map(|a| a.version).collect();
        warn_unknown(&applied, &self.list);
        let mut ran = Vec::new();
        for m in self.list.iter().filter(|m| !done.contains(&m.version)) {
            let record = format!(
                "INSERT INTO backtick_migrations (version, name, checksum) VALUES ({}, '{}', '{}')",
                m.version,
                m.name,
                m.checksum()
            );
            in_transaction(conn, m, Direction::Up, &record).await?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
            ran.push(*m);
        }
        Ok(ran)
    }

    async fn revert_locked<C: MigrationConnection + ?Sized>(
        &self,
        conn: &mut C,
    ) -> Result<Option<Migration>, MigrateError> {
        let applied = read_applied(conn).await?;
        let Some(last) = applied.iter().max_by_key(|a| a.version) else {
            return Ok(None);
        };
        let Some(m) = self.list.iter().find(|m| m.version == last.version) else {
            return Err(MigrateError::UnknownMigration {
                version: last.version,
                name: last.name.clone(),
            });
        };
        self.verify(std::slice::from_ref(last))?;
        let forget = format!("DELETE FROM backtick_migrations WHERE version = {}", m.version);
        in_transaction(conn, m, Direction::Down, &forget).await?;
        tracing::info!(version = m.version, name = m.name, "reverted migration");
        Ok(Some(*m))
    }

    /// Every applied migration this build knows must have the checksum this build has.
    fn verify(&self, applied: &[Applied]) -> Result<(), MigrateError> {
        for a in applied {
            let Some(m) = self.list.iter().find(|m| m.version == a.version) else {
                continue;
            };
            let embedded = m.checksum();
            if embedded != a.checksum {
                return Err(MigrateError::ChecksumMismatch {
                    version: a.version,
                    name: m.name.to_owned(),
                    applied: a.checksum.clone(),
                    embedded,
                });
            }
        }
        Ok(())
    }

    fn status_of(&self, applied: &[Applied]) -> Vec<MigrationStatus> {
        let mut lines: BTreeMap<i64, MigrationStatus> = self
            .list
            .iter()
            .map(|m| {
                (
                    m.version,
                    MigrationStatus {
                        version: m.version,
                        name: m.name.to_owned(),
                        state: MigrationState::Pending,
                    },
                )
            })
            .collect();
        for a in applied {
            let known = self.list.iter().find(|m| m.version == a.version);
            let state = match known {
                Some(m) if m.checksum() == a.checksum => MigrationState::Applied { at: a.applied_at },
                Some(_) => MigrationState::Changed { at: a.applied_at },
                None => MigrationState::Unknown { at: a.applied_at },
            };
            let name = known.map_or_else(|| a.name.clone(), |m| m.name.to_owned());
            lines.insert(
                a.version,
                MigrationStatus {
                    version: a.version,
                    name,
                    state,
                },
            );
        }
        lines.into_values().collect()
    }
}

async fn lock<C: MigrationConnection + ?Sized>(conn: &mut C) -> Result<(), MigrateError> {
    conn.execute(LOCK).await.map_err(|source| MigrateError::Database {
        action: "take the migration lock",
        source,
    })
}

/// Release the advisory lock, whatever `result` is; the first error wins.
async fn release<C: MigrationConnection + ?Sized, T>(
    conn: &mut C,
    result: Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let unlocked = conn.execute(UNLOCK).await;
    let value = result?;
    unlocked.map_err(|source| MigrateError::Database {
        action: "release the migration lock",
        source,
    })?;
    Ok(value)
}

async fn read_applied<C: MigrationConnection + ?Sized>(conn: &mut C) -> Result<Vec<Applied>, MigrateError> {
    conn.execute(CREATE_TRACKING_TABLE)
        .await
        .map_err(|source| MigrateError::Database {
            action: "create the backtick_migrations table",
            source,
        })?;
    conn.query_applied(SELECT_APPLIED)
        .await
        .map_err(|source| MigrateError::Database {
            action: "read the applied migrations",
            source,
        })
}

/// Run `m`'s script for `direction` and the `bookkeeping` statement in one transaction.
async fn in_transaction<C: MigrationConnection + ?Sized>(
    conn: &mut C,
    m: &Migration,
    direction: Direction,
    bookkeeping: &str,
) -> Result<(), MigrateError> {
    let failed = |source| MigrateError::Failed {
        version: m.version,
        name: m.name.to_owned(),
        direction,
        source,
    };
    let script = match direction {
        Direction::Up => m.up,
        Direction::Down => m.down,
    };
    conn.execute("BEGIN").await.map_err(failed)?;
    let body = match conn.execute(script).await {
        Ok(()) => conn.execute(bookkeeping).await,
        Err(e) => Err(e),
    };
    if let Err(source) = body {
        if let Err(rollback) = conn.execute("ROLLBACK").await {
            tracing::warn!(error = %rollback, "rollback after a failed migration failed");
        }
        return Err(failed(source));
    }
    conn.execute("COMMIT").await.map_err(failed)
}

fn warn_unknown(applied: &[Applied], known: &[Migration]) {
    for a in applied.iter().filter(|a| !known.iter().any(|m| m.version == a.version)) {
        tracing::warn!(
            version = a.version,
            name = %a.name,
            "the database has a migration this build does not know (applied by a newer release)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every statement; fails the one equal to `fail_on`.
    #[derive(Default)]
    struct Recorder {
        applied: Vec<Applied>,
        log: Vec<String>,
        fail_on: Option<&'static str>,
    }

    #[async_trait]
    impl MigrationConnection for Recorder {
        async fn execute(&mut self, sql: &str) -> Result<(), BoxError> {
            self.log.push(sql.to_owned());
            if self.fail_on == Some(sql) {
                Err("syntax error at or near \"oops\"".into())
            } else {
                Ok(())
            }
        }

        async fn query_applied(&mut self, sql: &str) -> Result<Vec<Applied>, BoxError> {
            self.log.push(sql.to_owned());
            Ok(self.applied.clone())
        }
    }

    const M1: Migration = Migration::new(1, "one", "CREATE TABLE one ()", "DROP TABLE one");
    const M2: Migration = Migration::new(2, "two", "CREATE TABLE two ()", "DROP TABLE two");
    const M3: Migration = Migration::new(3, "three", "CREATE TABLE three ()", "DROP TABLE three");

    fn migrator() -> Migrator {
        Migrator::with_migrations(vec![M1, M2, M3]).unwrap()
    }

    fn applied(m: &Migration) -> Applied {
        Applied {
            version: m.version,
            name: m.name.to_owned(),
            checksum: m.checksum(),
            applied_at: Utc::now(),
        }
    }

    fn record(m: &Migration) -> String {
        format!(
            "INSERT INTO backtick_migrations (version, name, checksum) VALUES ({}, '{}', '{}')",
            m.version,
            m.name,
            m.checksum()
        )
    }

    #[test]
    fn the_lock_statements_use_the_published_key() {
        assert!(LOCK.contains(&LOCK_KEY.to_string()));
        assert!(UNLOCK.contains(&LOCK_KEY.to_string()));
        assert!(CREATE_TRACKING_TABLE.contains(TRACKING_TABLE));
    }

    #[tokio::test]
    async fn run_applies_pending_migrations_in_order_each_in_its_own_transaction_under_the_lock() {
        let mut conn = Recorder {
            applied: vec![applied(&M1)],
            ..Recorder::default()
        };
        let ran = migrator().run(&mut conn).await.unwrap();
        assert_eq!(ran, vec![M2, M3]);
        let expected = vec![
            LOCK.to_owned(),
            CREATE_TRACKING_TABLE.to_owned(),
            SELECT_APPLIED.to_owned(),
            "BEGIN".to_owned(),
            M2.up.to_owned(),
            record(&M2),
            "COMMIT".to_owned(),
            "BEGIN".to_owned(),
            M3.up.to_owned(),
            record(&M3),
            "COMMIT".to_owned(),
            UNLOCK.to_owned(),
        ];
        assert_eq!(conn.log, expected);
    }

    #[tokio::test]
    async fn run_on_an_up_to_date_database_applies_nothing() {
        let mut conn = Recorder {
            applied: vec![applied(&M1), applied(&M2), applied(&M3)],
            ..Recorder::default()
        };
        assert_eq!(migrator().run(&mut conn).await.unwrap(), vec![]);
        assert!(!conn.log.iter().any(|sql| sql == "BEGIN"), "{:?}", conn.log);
    }

    #[tokio::test]
    async fn run_refuses_a_changed_migration_before_applying_anything_and_still_unlocks() {
        let mut changed = applied(&M1);
        changed.checksum = "0".repeat(64);
        let mut conn = Recorder {
            applied: vec![changed],
            ..Recorder::default()
        };
        let err = migrator().run(&mut conn).await.unwrap_err();
        let MigrateError::ChecksumMismatch { version, .. } = &err else {
            panic!("expected a mismatch, got {err:?}")
        };
        assert_eq!(*version, 1);
        assert!(err.to_string().contains("was changed after it was applied"), "{err}");
        assert!(!conn.log.iter().any(|sql| sql == "BEGIN"));
        assert_eq!(conn.log.last().map(String::as_str), Some(UNLOCK));
    }

    #[tokio::test]
    async fn a_failing_migration_is_rolled_back_and_stops_the_run() {
        let mut conn = Recorder {
            fail_on: Some(M2.up),
            ..Recorder::default()
        };
        let err = migrator().run(&mut conn).await.unwrap_err();
        assert!(
            matches!(
                &err,
                MigrateError::Failed {
                    version: 2,
                    direction: Direction::Up,
                    ..
                }
            ),
            "expected migration 2 to fail, got {err:?}"
        );
        assert!(err.to_string().contains("oops"), "{err}");
        let tail: Vec<&str> = conn.log.iter().rev().take(3).map(String::as_str).collect();
        assert_eq!(tail, vec![UNLOCK, "ROLLBACK", M2.up]);
        assert!(!conn.log.iter().any(|sql| sql.as_str() == M3.up));
    }

    #[tokio::test]
    async fn revert_last_runs_the_down_script_of_the_highest_applied_version() {
        let mut conn = Recorder {
            applied: vec![applied(&M1), applied(&M2)],
            ..Recorder::default()
        };
        assert_eq!(migrator().revert_last(&mut conn).await.unwrap(), Some(M2));
        let body: Vec<&str> = conn.log[3..].iter().map(String::as_str).collect();
        assert_eq!(
            body,
            vec![
                "BEGIN",
                M2.down,
                "DELETE FROM backtick_migrations WHERE version = 2",
                "COMMIT",
                UNLOCK
            ]
        );
    }

    #[tokio::test]
    async fn revert_last_with_nothing_applied_does_nothing() {
        let mut conn = Recorder::default();
        assert_eq!(migrator().revert_last(&mut conn).await.unwrap(), None);
        assert!(!conn.log.iter().any(|sql| sql == "BEGIN"));
    }

    #[tokio::test]
    async fn revert_last_refuses_a_migration_this_build_does_not_know() {
        let newer = Migration::new(9, "newer", "CREATE TABLE n ()", "DROP TABLE n");
        let mut conn = Recorder {
            applied: vec![applied(&M1), applied(&newer)],
            ..Recorder::default()
        };
        let err = migrator().revert_last(&mut conn).await.unwrap_err();
        assert!(
            matches!(err, MigrateError::UnknownMigration { version: 9, .. }),
            "{err:?}"
        );
        assert_eq!(conn.log.last().map(String::as_str), Some(UNLOCK));
    }

    #[tokio::test]
    async fn status_lists_pending_applied_changed_and_unknown_migrations_by_version() {
        let mut changed = applied(&M2);
        changed.checksum = "f".repeat(64);
        let newer = applied(&Migration::new(9, "newer", "x", "y"));
        let mut conn = Recorder {
            applied: vec![applied(&M1), changed, newer],
            ..Recorder::default()
        };
        let status = migrator().status(&mut conn).await.unwrap();
        let states: Vec<(i64, &str, &MigrationState)> =
            status.iter().map(|s| (s.version, s.name.as_str(), &s.state)).collect();
        assert!(
            matches!(states[0], (1, "one", MigrationState::Applied { .. })),
            "{states:?}"
        );
        assert!(
            matches!(states[1], (2, "two", MigrationState::Changed { .. })),
            "{states:?}"
        );
        assert!(matches!(states[2], (3, "three", MigrationState::Pending)), "{states:?}");
        assert!(
            matches!(states[3], (9, "newer", MigrationState::Unknown { .. })),
            "{states:?}"
        );
        assert_eq!(states.len(), 4);
    }
}
