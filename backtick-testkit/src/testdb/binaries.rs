//! [`PgBinaries`]: where the PostgreSQL server binaries are.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestDbError;
use super::os::command_stdout;

/// A directory holding the PostgreSQL server binaries `initdb`, `pg_ctl` and `postgres`.
///
/// # Examples
///
/// ```no_run
/// use backtick_testkit::testdb::PgBinaries;
///
/// let bins = PgBinaries::find()?;
/// println!("initdb: {}", bins.initdb().display());
/// # Ok::<(), backtick_testkit::testdb::TestDbError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    bindir: PathBuf,
}

impl PgBinaries {
    /// Finds the binaries in the first of [`PgBinaries::search_dirs`] that holds all three.
    ///
    /// # Errors
    ///
    /// [`TestDbError::PostgresNotFound`], listing the directories searched.
    pub fn find() -> Result<Self, TestDbError> {
        Self::find_in(&Self::search_dirs())
    }

    /// Finds the binaries in the first of `dirs` that holds `initdb`, `pg_ctl` and `postgres`.
    ///
    /// # Errors
    ///
    /// [`TestDbError::PostgresNotFound`] when no directory holds all three.
    pub fn find_in(dirs: &[PathBuf]) -> Result<Self, TestDbError> {
        dirs.iter()
            .find(|dir| {
                ["initdb", "pg_ctl", "postgres"]
                    .iter()
                    .all(|bin| is_executable(&dir.join(bin)))
            })
            .map(|dir| Self { bindir: dir.clone() })
            .ok_or_else(|| TestDbError::PostgresNotFound {
                searched: dirs.to_vec(),
            })
    }

    /// Directories to search, in order: `PG_BINDIR`, `pg_config --bindir`,
    /// `/usr/lib/postgresql/<version>/bin` (highest version first), then `PATH`.
    pub fn search_dirs() -> Vec<PathBuf> {
        let pg_bindir = std::env::var_os("PG_BINDIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from);
        let pg_config = command_stdout(Command::new("pg_config").arg("--bindir")).map(PathBuf::from);
        let mut dirs: Vec<PathBuf> = pg_bindir.into_iter().chain(pg_config).collect();
        dirs.extend(versioned_bindirs(Path::new("/usr/lib/postgresql")));
        dirs.extend(std::env::var_os("PATH").iter().flat_map(std::env::split_paths));
        let mut seen = std::collections::HashSet::new();
        dirs.retain(|dir| !dir.as_os_str().is_empty() && seen.insert(dir.clone()));
        dirs
    }

    /// The directory holding the binaries.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Path of `initdb`.
    pub fn initdb(&self) -> PathBuf {
        self.bindir.join("initdb")
    }

    /// Path of `pg_ctl`.
    pub fn pg_ctl(&self) -> PathBuf {
        self.bindir.join("pg_ctl")
    }

    /// Path of another tool of the same installation (`psql`, `pg_isready`), if it is there.
    pub fn tool(&self, name: &str) -> Option<PathBuf> {
        Some(self.bindir.join(name)).filter(|path| is_executable(path))
    }
}

/// `<root>/<version>/bin` for every version directory under `root`, highest version first.
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.split('.').map(str::parse).collect::<Result<Vec<u32>, _>>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions
        .into_iter()
        .map(|(_, dir)| dir)
        .filter(|dir| dir.is_dir())
        .collect()
}

pub(super) fn is_executable(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::test_support::TempDir;
    use super::*;

    fn fake_bin(dir: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn find_in_picks_the_first_dir_holding_all_three_server_binaries() {
        let tmp = TempDir::new("find");
        let (partial, full, later) = (tmp.0.join("partial"), tmp.0.join("full"), tmp.0.join("later"));
        for dir in [&partial, &full, &later] {
            fs::create_dir_all(dir).unwrap();
        }
        fake_bin(&partial, "initdb");
        fake_bin(&partial, "pg_ctl");
        for dir in [&full, &later] {
            for bin in ["initdb", "pg_ctl", "postgres"] {
                fake_bin(dir, bin);
            }
        }
        fs::write(later.join("psql"), "not executable").unwrap();

        let bins = PgBinaries::find_in(&[tmp.0.join("missing"), partial, full.clone(), later.clone()]).unwrap();

        assert_eq!(bins.bindir(), full);
        assert_eq!(bins.initdb(), full.join("initdb"));
        assert_eq!(
            PgBinaries::find_in(std::slice::from_ref(&later)).unwrap().tool("psql"),
            None
        );
    }

    #[test]
    fn versioned_bindirs_come_highest_version_first() {
        let tmp = TempDir::new("versions");
        for version in ["9.6", "15", "16", "10", "not-a-version"] {
            fs::create_dir_all(tmp.0.join(version).join("bin")).unwrap();
        }
        fs::create_dir_all(tmp.0.join("17")).unwrap(); // no bin/: skipped

        let dirs = versioned_bindirs(&tmp.0);

        let expected: Vec<PathBuf> = ["16", "15", "10", "9.6"]
            .iter()
            .map(|v| tmp.0.join(v).join("bin"))
            .collect();
        assert_eq!(dirs, expected);
    }

    #[test]
    fn system_binaries_are_found_and_run() {
        let bins = PgBinaries::find().expect("install postgresql (initdb, pg_ctl, postgres) to run these tests");

        let version = command_stdout(Command::new(bins.initdb()).arg("--version")).unwrap();

        assert!(
            version.contains("PostgreSQL"),
            "unexpected initdb --version output: {version}"
        );
        assert!(PgBinaries::search_dirs().contains(&bins.bindir().to_path_buf()));
    }

    #[test]
    fn missing_binaries_error_says_how_to_provide_a_server() {
        let tmp = TempDir::new("empty");

        let error = PgBinaries::find_in(std::slice::from_ref(&tmp.0)).unwrap_err();

        assert!(
            matches!(&error, TestDbError::PostgresNotFound { searched } if searched == std::slice::from_ref(&tmp.0))
        );
        let message = error.to_string();
        for hint in [
            "BACKTICK_TEST_DATABASE_URL",
            "install postgresql",
            "PG_BINDIR",
            "`testcontainers` feature",
        ] {
            assert!(message.contains(hint), "{hint:?} missing from: {message}");
        }
        assert!(
            message.contains(&tmp.0.display().to_string()),
            "searched dir missing from: {message}"
        );
    }
}
