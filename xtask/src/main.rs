//! `cargo xtask`: the project's developer commands.
//!
//! ```text
//! cargo xtask demo                       the demo, on the configured database or a throwaway one
//!                                        (stopped afterwards when the demo started it)
//! cargo xtask test                       every test (a throwaway cluster it started is stopped)
//! cargo xtask chaos [ARGS]              the long fault profile: every fault scenario on both backends
//! cargo xtask ci                         cargo fmt --check, clippy -D warnings, test, doc, semver,
//!                                        the outside example, demo, bench --quick, package
//! cargo xtask package                    cargo package of every library crate (dependency order)
//! cargo xtask doc                       the library docs as docs.rs builds them (--cfg docsrs)
//! cargo xtask outside-app               the README's examples, built in a crate outside the workspace
//! cargo xtask semver                     cargo-semver-checks against the last v* tag, once there is one
//! cargo xtask bench [--quick] [--large] [--soak [MIN]] [--backend pg|diesel|all] ...
//!                                        the benchmark; figures in target/bench/
//! cargo xtask migrate run|revert|status  the schema, on the configured database
//! cargo xtask migrate new NAME           a new pair of migration files
//! cargo xtask db start|stop|url|status   the development cluster under target/
//! ```

mod bench;
mod db;
mod migrate;
mod outside;

use std::process::{Command, ExitCode};

use backtick_testkit::testdb::{ClusterStatus, LocalCluster};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "test" => test(rest),
        "chaos" => chaos(rest),
        "ci" => ci(),
        "demo" => demo(),
        "package" => package(),
        "outside-app" => outside::run(),
        "doc" => doc(),
        "semver" => semver(),
        "bench" => bench::run(rest),
        "db" => db::run(rest),
        "migrate" => migrate::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo                       run the demo on BT_DATABASE_URL / DATABASE_URL, else on a throwaway
                             cluster under target/ (started from the system's PostgreSQL, on
                             127.0.0.1:55432 or the next free port; stopped afterwards unless it
                             was running before)
  test [ARGS]                run every test of the workspace (extra ARGS go to `cargo test`; a
                             throwaway cluster the tests started is stopped afterwards)
  chaos [--profile short|long] [--only SCENARIO] [--backend pg|diesel]
                             the fault suite's long profile on a private cluster under target/
                             (127.0.0.1:56211): prints scenario x lost, duplicates, explained,
                             stuck, self-exits, recovery seconds; fails on a failed audit
  ci                         cargo fmt --check, cargo clippy --all-targets -D warnings, `test`,
                             `package`, `semver`, the outside example, `demo`, `bench --quick`
  package                    `cargo package` of every library crate, in dependency order, each
                             built from its package alone (as crates.io would)
  doc                        the library crates' docs as docs.rs builds them (`--cfg docsrs`, all
                             features, feature badges), warnings denied
  outside-app                check the README's marked examples and dependency lines against
                             examples/outside-app (outside the workspace, on backtick-postgres
                             0.1 by version) and build it
  semver                     cargo-semver-checks of every library crate against the last `v*` tag
                             (skipped, with a note, until a version is tagged or when the tool is
                             not installed)
  bench [--quick] [--large] [--soak [MIN]] [--backend pg|diesel|all] [--only PREFIX]
        [--profile] [--drain-jobs N] [--out DIR]
                             the benchmark (release; --quick: small N in the dev profile, for CI;
                             --large: the workloads of minutes; --soak: the long steady run);
                             `cargo xtask bench --help` explains each flag
  migrate run|revert|status  apply, revert the last, or list migrations on BT_DATABASE_URL / DATABASE_URL
  migrate new NAME           create migrations/NNNN_NAME.up.sql and .down.sql
  db start|stop|url|status   the development cluster under target/ (127.0.0.1:55432, or the next
                             free port when another server holds it)";

/// Run every test: unit, integration and doc tests of every crate.
///
/// Without a configured server the tests start the workspace cluster; a cluster this command
/// started is stopped at the end (one that was running before keeps running).
fn test(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["test", "--workspace", "--locked"];
    args.extend(extra.iter().map(String::as_str));
    let cluster = match backtick_testkit::testdb::configured_url() {
        Some(_) => None,
        None => Some(ThrowawayCluster::before()?),
    };
    let result = cargo(&args);
    match cluster {
        Some(cluster) => cluster.after(result),
        None => result,
    }
}

/// The long fault profile: build the e2e binaries, then run `e2e-chaos` (which starts the
/// `e2e-runner` processes next to it).
fn chaos(extra: &[String]) -> Result<(), String> {
    cargo(&["build", "--locked", "--package", "backtick-e2e", "--bins"])?;
    let exe = built_exe("debug", "e2e-chaos")?;
    let status = Command::new(&exe)
        .args(extra)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the fault suite failed ({status})"))
    }
}

/// The path of the binary `name` that cargo built in the workspace's target directory, in
/// `profile_dir` (`debug`, `release`).
pub(crate) fn built_exe(profile_dir: &str, name: &str) -> Result<std::path::PathBuf, String> {
    let target = backtick_testkit::testdb::workspace_target_dir().map_err(|e| e.to_string())?;
    Ok(target
        .join(profile_dir)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// The demo: on the configured database, else on the workspace cluster (started if needed, and
/// stopped afterwards if this command started it).
fn demo() -> Result<(), String> {
    let (url, cluster) = match migrate::configured_url() {
        Some(url) => (url, None),
        None => {
            let cluster = ThrowawayCluster::before()?;
            let running = LocalCluster::workspace_running().map_err(|e| e.to_string())?;
            eprintln!(
                "xtask: no BT_DATABASE_URL or DATABASE_URL; using a throwaway cluster in {} on {}",
                running.dir().display(),
                running.url()
            );
            (running.url(), Some(cluster))
        }
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let result = Command::new(&cargo)
        .args(["run", "--locked", "--quiet", "--package", "backtick-demo"])
        .env("BT_DATABASE_URL", &url)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))
        .and_then(|status| {
            if status.success() {
                Ok(())
            } else {
                Err(format!("the demo failed ({status})"))
            }
        });
    match cluster {
        Some(cluster) => cluster.after(result),
        None => result,
    }
}

/// The workspace cluster around a command that may start it: stopped afterwards if the command
/// started it, left running (and said so) if it was running before.
struct ThrowawayCluster {
    was_running: bool,
}

impl ThrowawayCluster {
    fn before() -> Result<Self, String> {
        let cluster = LocalCluster::workspace_default().map_err(|e| e.to_string())?;
        Ok(Self {
            was_running: cluster.status() == ClusterStatus::Running,
        })
    }

    /// Stops the cluster if it was not running before; `result` is the command's.
    fn after(self, result: Result<(), String>) -> Result<(), String> {
        let cluster = LocalCluster::workspace_default().map_err(|e| e.to_string())?;
        if cluster.status() != ClusterStatus::Running {
            return result;
        }
        if self.was_running {
            eprintln!(
                "xtask: the cluster in {} keeps running on {} (it was running before); `cargo xtask db stop` stops it",
                cluster.dir().display(),
                cluster.url()
            );
            return result;
        }
        let stopped = cluster.stop().map_err(|e| e.to_string());
        if stopped.is_ok() {
            eprintln!(
                "xtask: stopped the throwaway cluster in {} (its data stays)",
                cluster.dir().display()
            );
        }
        result.and(stopped)
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    test(&[])?;
    doc()?;
    semver()?;
    outside::run()?;
    // The example application must run, not only build; the benchmark must not rot.
    demo()?;
    bench::run(&["--quick".to_owned()])?;
    // Last: the verification forgets the library crates' builds (see
    // `forget_stale_package_builds`), which the steps above would otherwise compile again.
    package()
}

/// The crates published to crates.io, in dependency order. Binaries (`backtick-cli`), the
/// benchmark, the end-to-end tests, the examples and xtask stay unpublished (`publish = false`).
const LIBRARY_CRATES: [&str; 8] = [
    "backtick-cron",
    "backtick-macros",
    "backtick-core",
    "backtick-pg-common",
    "backtick-testkit",
    "backtick-postgres",
    "backtick-diesel",
    "backtick-dashboard",
];

/// `cargo package` of every library crate: cargo packages them in dependency order through a
/// temporary local registry and builds each from its `.crate` alone, so a path dependency
/// without a version, a file outside the crate or a missing feature fails here, not on publish.
/// Offline: every dependency is in Cargo.lock and the local cache.
fn package() -> Result<(), String> {
    forget_stale_package_sources()?;
    forget_stale_package_builds()?;
    let mut args = vec!["package", "--locked", "--offline", "--allow-dirty"];
    for krate in LIBRARY_CRATES {
        args.extend(["-p", krate]);
    }
    cargo(&args)
}

/// Removes what cargo extracted from the temporary registry of an earlier `cargo package`.
///
/// Cargo extracts each packaged dependency (`backtick-core-0.1.0`, ...) under
/// `$CARGO_HOME/registry/src/-<hash>/` (the temporary registry has no name) and reuses an
/// extraction of the same name and version on the next run, even though the crate changed
/// since: the next verification would then build against yesterday's `backtick-core`. Only
/// those directories go (never a crates.io one: their names start with the registry's name).
fn forget_stale_package_sources() -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cargo")));
    let Some(src) = cargo_home.map(|home| home.join("registry").join("src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(());
    };
    for registry in registries.filter_map(Result::ok) {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for extracted in crates.filter_map(Result::ok) {
            let name = extracted.file_name().to_string_lossy().into_owned();
            if LIBRARY_CRATES
                .iter()
                .any(|krate| name.starts_with(&format!("{krate}-")))
            {
                let path = extracted.path();
                std::fs::remove_dir_all(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Cargo takes a registry crate's build as final for its name and version, so the builds of
/// the previous verification (`backtick-core 0.1.0` from the temporary registry) would be linked
/// again. Forgetting the library crates' fingerprints makes cargo build them afresh (this
/// workspace's own builds of them too: a minute, the next time they are needed).
fn forget_stale_package_builds() -> Result<(), String> {
    let target = backtick_testkit::testdb::workspace_target_dir().map_err(|e| e.to_string())?;
    let fingerprints = target.join("debug").join(".fingerprint");
    let Ok(entries) = std::fs::read_dir(&fingerprints) else {
        return Ok(());
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if LIBRARY_CRATES
            .iter()
            .any(|krate| name.starts_with(&format!("{krate}-")))
        {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The library crates' documentation as docs.rs builds it: every feature, `--cfg docsrs` (the
/// feature badges, `doc(cfg)`, need nightly's `doc_cfg`, hence `RUSTC_BOOTSTRAP=1` for this
/// one command), and a broken intra-doc link or another rustdoc warning fails it.
fn doc() -> Result<(), String> {
    let mut args = vec!["doc", "--no-deps", "--locked", "--all-features"];
    for krate in LIBRARY_CRATES {
        args.extend(["-p", krate]);
    }
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!(
        "xtask: running cargo {} (RUSTDOCFLAGS=\"--cfg docsrs -D warnings\")",
        args.join(" ")
    );
    let status = Command::new(&cargo_bin)
        .args(&args)
        .env("RUSTDOCFLAGS", "--cfg docsrs -D warnings")
        .env("RUSTC_BOOTSTRAP", "1")
        .status()
        .map_err(|e| format!("cannot run {cargo_bin}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo doc failed ({status})"))
    }
}

/// The API-compatibility check: `cargo semver-checks` of every library crate against the last
/// `v*` tag. Until a first version is tagged there is nothing to compare with, and without
/// the tool (`cargo install cargo-semver-checks`) it cannot run: both are said and skipped.
fn semver() -> Result<(), String> {
    let tag = Command::new("git")
        .args(["describe", "--tags", "--abbrev=0", "--match", "v*"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|tag| !tag.is_empty());
    let Some(tag) = tag else {
        eprintln!("xtask: semver check skipped: no `v*` tag yet (it starts with the first tagged release)");
        return Ok(());
    };
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let installed = Command::new(&cargo_bin)
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        eprintln!(
            "xtask: semver check against {tag} skipped: cargo-semver-checks is not installed \
             (`cargo install cargo-semver-checks --locked`)"
        );
        return Ok(());
    }
    let mut args = vec!["semver-checks", "check-release", "--baseline-rev", tag.as_str()];
    for krate in LIBRARY_CRATES {
        args.extend(["-p", krate]);
    }
    cargo(&args)
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: running cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}
