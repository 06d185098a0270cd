//! `cargo xtask migrate run|revert|status|new NAME`: the schema in `migrations/`.

use std::path::{Path, PathBuf};

use backtick_postgres::PgStore;

const USAGE: &str = "usage: cargo xtask migrate <run|revert|status|new NAME>

  run       apply every pending migration (safe while runners start: an advisory lock serialises)
  revert    revert the last applied migration
  status    list every migration and whether it is applied
  new NAME  create migrations/NNNN_NAME.up.sql and NNNN_NAME.down.sql

run, revert and status use BT_DATABASE_URL, else DATABASE_URL.";

/// The application's database: `BT_DATABASE_URL`, else `DATABASE_URL`.
pub(crate) fn configured_url() -> Option<String> {
    ["BT_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.trim().is_empty()))
}

/// Runs `cargo xtask migrate ARGS`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args {
        [command, name] if command == "new" => new(name),
        [command] if matches!(command.as_str(), "run" | "revert" | "status") => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
            runtime.block_on(on_database(command))
        }
        _ => Err(USAGE.to_owned()),
    }
}

async fn on_database(command: &str) -> Result<(), String> {
    let store = PgStore::from_env().await.map_err(|e| e.to_string())?;
    match command {
        "run" => {
            let applied = store.migrate().await.map_err(|e| e.to_string())?;
            for migration in &applied {
                println!("applied {:04} {}", migration.version, migration.name);
            }
            println!("{} migration(s) applied; the schema is up to date", applied.len());
        }
        "revert" => match store.revert_last_migration().await.map_err(|e| e.to_string())? {
            Some(migration) => println!("reverted {:04} {}", migration.version, migration.name),
            None => println!("nothing to revert"),
        },
        _ => {
            for status in store.migration_status().await.map_err(|e| e.to_string())? {
                println!("{:04} {:<30} {:?}", status.version, status.name, status.state);
            }
        }
    }
    store.close().await;
    Ok(())
}

fn new(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(format!(
            "migration name {name:?}: use lowercase letters, digits and underscores"
        ));
    }
    let dir = migrations_dir()?;
    let next = next_version(&dir)?;
    for (suffix, body) in [("up", "-- apply the change\n"), ("down", "-- undo the change\n")] {
        let path = dir.join(format!("{next:04}_{name}.{suffix}.sql"));
        std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("created {}", path.display());
    }
    Ok(())
}

fn migrations_dir() -> Result<PathBuf, String> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| "run this through `cargo xtask`".to_owned())?;
    let dir = Path::new(&manifest).join("..").join("migrations");
    dir.canonicalize()
        .map_err(|e| format!("cannot find {}: {e}", dir.display()))
}

fn next_version(dir: &Path) -> Result<u32, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let highest = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.split('_').next()?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    Ok(highest + 1)
}
