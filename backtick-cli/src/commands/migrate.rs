//! `backtick migrate up|down|status`, on the [`Schema`] of a database.

use async_trait::async_trait;
use backtick_postgres::{MigrateError, Migration, MigrationState, MigrationStatus, PgStore};
use serde::Serialize;

use crate::cli::MigrateCommand;
use crate::error::CliError;
use crate::output::{Output, Table, time};

/// A database's schema migrations: what `backtick migrate` and `backtick doctor` use. Implemented
/// by [`PgStore`]; a trait so that the commands are tested without a database.
#[async_trait]
pub trait Schema: Send + Sync {
    /// Apply every pending migration; the ones applied.
    async fn up(&self) -> Result<Vec<Migration>, MigrateError>;
    /// Revert the last applied migration; `None` when none is applied.
    async fn down(&self) -> Result<Option<Migration>, MigrateError>;
    /// Every known and applied migration and where it stands.
    async fn status(&self) -> Result<Vec<MigrationStatus>, MigrateError>;
}

#[async_trait]
impl Schema for PgStore {
    async fn up(&self) -> Result<Vec<Migration>, MigrateError> {
        self.migrate().await
    }

    async fn down(&self) -> Result<Option<Migration>, MigrateError> {
        self.revert_last_migration().await
    }

    async fn status(&self) -> Result<Vec<MigrationStatus>, MigrateError> {
        self.migration_status().await
    }
}

/// One migration in `--json` output.
#[derive(Debug, Serialize)]
pub struct MigrationView {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// pending, applied, changed (applied, then edited in this build) or unknown (applied by a
    /// newer build).
    pub state: &'static str,
    /// When it was applied.
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&MigrationStatus> for MigrationView {
    fn from(status: &MigrationStatus) -> Self {
        let (state, applied_at) = state_of(&status.state);
        MigrationView {
            version: status.version,
            name: status.name.clone(),
            state,
            applied_at,
        }
    }
}

/// A migration state's name and application time.
pub fn state_of(state: &MigrationState) -> (&'static str, Option<chrono::DateTime<chrono::Utc>>) {
    match state {
        MigrationState::Pending => ("pending", None),
        MigrationState::Applied { at } => ("applied", Some(*at)),
        MigrationState::Changed { at } => ("changed", Some(*at)),
        MigrationState::Unknown { at } => ("unknown", Some(*at)),
        _ => ("unknown", None),
    }
}

fn applied(migration: &Migration) -> MigrationView {
    MigrationView {
        version: migration.version,
        name: migration.name.to_owned(),
        state: "applied",
        applied_at: None,
    }
}

/// Run a `migrate` command.
///
/// # Errors
/// A failing migration (rolled back), a changed one, no connection; `down` without `--yes`.
pub async fn run(schema: &dyn Schema, command: &MigrateCommand, out: &mut Output<'_>) -> Result<(), CliError> {
    match command {
        MigrateCommand::Up => {
            let done = schema.up().await?;
            let views: Vec<MigrationView> = done.iter().map(applied).collect();
            let text = match done.as_slice() {
                [] => "the schema is up to date: nothing to apply".to_owned(),
                done => format!(
                    "applied {}",
                    done.iter()
                        .map(|m| format!("{:04}_{}", m.version, m.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            out.either(&views, text)
        }
        MigrateCommand::Down { yes } => {
            if !yes {
                return Err(CliError::bad_input(
                    "reverting a migration drops its tables and their data; nothing changed: pass --yes to revert the last migration",
                ));
            }
            let reverted = schema.down().await?;
            let text = match &reverted {
                Some(m) => format!("reverted {:04}_{}", m.version, m.name),
                None => "no migration is applied: nothing to revert".to_owned(),
            };
            let view = reverted.as_ref().map(|m| MigrationView {
                state: "pending",
                ..applied(m)
            });
            out.either(&view, text)
        }
        MigrateCommand::Status => {
            let status = schema.status().await?;
            let views: Vec<MigrationView> = status.iter().map(MigrationView::from).collect();
            if out.json {
                return out.json(&views);
            }
            let mut table = Table::new(&["VERSION", "NAME", "STATE", "APPLIED AT"]);
            for v in &views {
                table.row(vec![
                    format!("{:04}", v.version),
                    v.name.clone(),
                    v.state.to_owned(),
                    time(v.applied_at),
                ]);
            }
            out.table(&table, "no migrations known")
        }
    }
}
