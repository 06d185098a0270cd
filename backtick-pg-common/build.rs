//! Embeds `migrations/*.sql` (a link to the repository's `migrations/`) and checks them at build time: every file is named
//! `NNNN_name.{up,down}.sql`, versions are unique, and every up has a down (and vice versa).

#[allow(dead_code, unreachable_pub)]
#[path = "src/migrate/file_name.rs"]
mod file_name;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use file_name::{Direction, parse_file_name};

struct Pair {
    name: String,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // `migrations` here is a link to the repository's `migrations/` (the single copy), which
    // `cargo package` turns into files, so that the published crate builds on its own.
    let dir = Path::new(&manifest).join("migrations");
    println!("cargo::rerun-if-changed={}", dir.display());
    let pairs = collect(&dir).unwrap_or_else(|problem| panic!("invalid migrations in {}: {problem}", dir.display()));
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("migrations.rs"), render(&pairs)).expect("write migrations.rs to OUT_DIR");
}

fn collect(dir: &Path) -> Result<BTreeMap<i64, Pair>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder: {e}"))?;
    let mut pairs: BTreeMap<i64, Pair> = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read the folder: {e}"))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if !file.ends_with(".sql") {
            continue;
        }
        println!("cargo::rerun-if-changed={}", path.display());
        let parsed = parse_file_name(file).map_err(|e| e.to_string())?;
        let pair = pairs.entry(parsed.version).or_insert_with(|| Pair {
            name: parsed.name.to_owned(),
            up: None,
            down: None,
        });
        if pair.name != parsed.name {
            return Err(format!(
                "version {} is used by both {:?} and {:?}",
                parsed.version, pair.name, parsed.name
            ));
        }
        let slot = match parsed.direction {
            Direction::Up => &mut pair.up,
            Direction::Down => &mut pair.down,
        };
        *slot = Some(path.clone());
    }
    for (version, pair) in &pairs {
        if pair.up.is_none() || pair.down.is_none() {
            let missing = if pair.up.is_none() { "up" } else { "down" };
            return Err(format!(
                "migration {version:04}_{} has no {missing} file: every up needs a down",
                pair.name
            ));
        }
    }
    if pairs.is_empty() {
        return Err("no migration files found".to_owned());
    }
    Ok(pairs)
}

fn render(pairs: &BTreeMap<i64, Pair>) -> String {
    let mut out = String::from("&[\n");
    for (version, pair) in pairs {
        let (Some(up), Some(down)) = (&pair.up, &pair.down) else {
            unreachable!("checked in collect")
        };
        let _ = writeln!(
            out,
            "    Migration::new({version}, {:?}, include_str!({:?}), include_str!({:?})),",
            pair.name,
            up.display().to_string(),
            down.display().to_string(),
        );
    }
    out.push(']');
    out
}
