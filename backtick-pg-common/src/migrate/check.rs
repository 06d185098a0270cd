//! The start-up check of a process that does not migrate itself: is every migration of this
//! build applied?

use backtick_core::StoreError;

use super::migration::migrations;

/// Check that every migration of this build is among `applied`, the versions read with
/// [`crate::sql::APPLIED_VERSIONS`]. Each store's `check_schema` reads them with its driver
/// and asks this.
///
/// # Errors
/// [`StoreError::NotMigrated`] naming every missing migration (`0002_schedules, ...`).
///
/// # Examples
/// ```
/// use backtick_pg_common::{check_applied, migrations};
/// let all: Vec<i64> = migrations().iter().map(|m| m.version).collect();
/// assert!(check_applied(&all).is_ok());
/// assert!(check_applied(&all[..1]).is_err());
/// ```
pub fn check_applied(applied: &[i64]) -> Result<(), StoreError> {
    let missing: Vec<String> = migrations()
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(StoreError::NotMigrated {
        message: format!("migrations {} are not applied", missing.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_migrations_are_named_by_version_and_name() {
        // Every migration but 0002, whatever comes after it.
        let applied: Vec<i64> = migrations().iter().map(|m| m.version).filter(|v| *v != 2).collect();
        let Err(StoreError::NotMigrated { message }) = check_applied(&applied) else {
            panic!("migration 2 is missing")
        };
        assert_eq!(message, "migrations 0002_schedules are not applied");
    }
}
