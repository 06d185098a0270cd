//! The default path generated code goes through: whichever backtick crate the user's
//! Cargo.toml depends on.
//!
//! Users normally depend on a backend (`backtick-postgres`), not on `backtick-core`, and cannot
//! name a crate they do not depend on. So, like `proc-macro-crate`, the macro reads the manifest
//! of the crate being compiled (`CARGO_MANIFEST_DIR`) and uses the name under which it depends on
//! one of [`PROVIDERS`], renames included (`backtick = { package = "backtick-postgres" }` gives
//! `::backtick`). Every provider re-exports `backtick_core::__private` at its root. Normal
//! dependencies win over dev-dependencies, so a library that dev-depends on core still expands to
//! the backend it really depends on. When nothing is found (no manifest: another build system),
//! the path is `::backtick_core`; `crate = "..."` on the attribute overrides all of this.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use toml_edit::{DocumentMut, Item, TableLike};

/// Packages that expose `__private` at their root, most direct first.
const PROVIDERS: [&str; 4] = ["backtick-core", "backtick", "backtick-postgres", "backtick-diesel"];

/// The fallback when the manifest names no provider.
const FALLBACK: &str = "backtick_core";

/// One answer per manifest: rust-analyzer's proc-macro server expands for many crates in one
/// process, so the cache is keyed by manifest directory.
static CACHE: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

/// `::<crate>` for the crate being compiled.
pub(crate) fn default_path() -> TokenStream {
    let name =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| FALLBACK.to_owned(), |dir| cached(Path::new(&dir)));
    let ident = syn::Ident::new(&name, Span::call_site());
    quote!(::#ident)
}

fn cached(dir: &Path) -> String {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    cache
        .get_or_insert_with(HashMap::new)
        .entry(dir.to_path_buf())
        .or_insert_with(|| lookup(dir))
        .clone()
}

fn lookup(dir: &Path) -> String {
    let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return FALLBACK.to_owned();
    };
    let workspace = || workspace_manifest(dir);
    resolve(&manifest, workspace).unwrap_or_else(|| FALLBACK.to_owned())
}

/// The nearest manifest above `dir` with a `[workspace]` table.
fn workspace_manifest(dir: &Path) -> Option<String> {
    dir.ancestors().skip(1).find_map(|parent| {
        let text = std::fs::read_to_string(parent.join("Cargo.toml")).ok()?;
        let doc = text.parse::<DocumentMut>().ok()?;
        doc.get("workspace").is_some().then_some(text)
    })
}

/// The crate name to use, from a manifest's text; `workspace` reads the workspace manifest, for
/// dependencies inherited with `workspace = true`. `None` when no provider is found.
pub(crate) fn resolve(manifest: &str, workspace: impl FnOnce() -> Option<String>) -> Option<String> {
    let doc = manifest.parse::<DocumentMut>().ok()?;
    let mut workspace = Workspace {
        read: Some(workspace),
        deps: None,
    };
    for section in ["dependencies", "dev-dependencies"] {
        let found: Vec<(usize, String)> = dependency_tables(&doc, section)
            .flat_map(|table| {
                table
                    .iter()
                    .map(|(key, item)| (key.to_owned(), item.clone()))
                    .collect::<Vec<_>>()
            })
            .filter_map(|(key, item)| {
                let package = package_of(&key, &item, &mut workspace);
                let rank = PROVIDERS.iter().position(|p| *p == package)?;
                Some((rank, key.replace('-', "_")))
            })
            .collect();
        if let Some((_, name)) = found.into_iter().min() {
            return Some(name);
        }
    }
    // The provider itself (its own tests and examples): core names itself with
    // `extern crate self as backtick_core`.
    let own = doc.get("package")?.get("name")?.as_str()?;
    PROVIDERS.contains(&own).then(|| own.replace('-', "_"))
}

/// `[section]` and every `[target.'cfg(..)'.section]`.
fn dependency_tables<'a>(doc: &'a DocumentMut, section: &'a str) -> impl Iterator<Item = &'a dyn TableLike> {
    let top = doc.get(section).and_then(Item::as_table_like);
    let targets = doc
        .get("target")
        .and_then(Item::as_table_like)
        .into_iter()
        .flat_map(move |targets| {
            targets
                .iter()
                .filter_map(move |(_, target)| target.get(section)?.as_table_like())
        });
    top.into_iter().chain(targets)
}

struct Workspace<F> {
    read: Option<F>,
    deps: Option<Option<DocumentMut>>,
}

impl<F: FnOnce() -> Option<String>> Workspace<F> {
    /// The `package` a `[workspace.dependencies]` entry renames to, read once when first needed.
    fn package(&mut self, key: &str) -> Option<String> {
        if self.deps.is_none() {
            let text = self.read.take().and_then(|read| read());
            self.deps = Some(text.and_then(|t| t.parse::<DocumentMut>().ok()));
        }
        let doc = self.deps.as_ref()?.as_ref()?;
        let entry = doc.get("workspace")?.get("dependencies")?.get(key)?;
        Some(entry.get("package")?.as_str()?.to_owned())
    }
}

/// The package a dependency entry refers to: its `package` key, the workspace entry's
/// `package` for `workspace = true`, or the key itself.
fn package_of<F: FnOnce() -> Option<String>>(key: &str, item: &Item, workspace: &mut Workspace<F>) -> String {
    if let Some(table) = item.as_table_like() {
        if let Some(package) = table.get("package").and_then(Item::as_str) {
            return package.to_owned();
        }
        if table.get("workspace").and_then(Item::as_bool) == Some(true)
            && let Some(package) = workspace.package(key)
        {
            return package;
        }
    }
    key.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_workspace() -> Option<String> {
        None
    }

    #[test]
    fn a_backend_dependency_is_used_when_core_is_absent() {
        let manifest = "[package]\nname = \"app\"\n[dependencies]\nbacktick-postgres = \"0.1\"\nserde = \"1\"\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_postgres"));
    }

    #[test]
    fn core_wins_over_a_backend() {
        let manifest = "[dependencies]\nbacktick-diesel = \"0.1\"\nbacktick-core = { version = \"0.1\" }\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_core"));
    }

    #[test]
    fn a_renamed_dependency_is_used_under_its_new_name() {
        let manifest = "[dependencies]\nbacktick = { package = \"backtick-postgres\", version = \"0.1\" }\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick"));
        let manifest = "[dependencies]\njobs = { package = \"backtick-core\", path = \"../core\" }\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("jobs"));
    }

    #[test]
    fn a_workspace_dependency_is_renamed_through_the_workspace_manifest() {
        let manifest = "[dependencies]\nqueue.workspace = true\n";
        let workspace =
            || Some("[workspace.dependencies]\nqueue = { package = \"backtick-diesel\", path = \"x\" }\n".to_owned());
        assert_eq!(resolve(manifest, workspace).as_deref(), Some("queue"));
        let manifest = "[dependencies]\nbacktick-postgres.workspace = true\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_postgres"));
    }

    #[test]
    fn normal_dependencies_win_over_dev_dependencies() {
        let manifest = "[dependencies]\nbacktick-postgres = \"0.1\"\n[dev-dependencies]\nbacktick-core = \"0.1\"\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_postgres"));
        let manifest = "[dev-dependencies]\nbacktick-core = \"0.1\"\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_core"));
    }

    #[test]
    fn target_specific_dependencies_count() {
        let manifest = "[target.'cfg(unix)'.dependencies]\nbacktick-postgres = \"0.1\"\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_postgres"));
    }

    #[test]
    fn core_itself_names_itself_and_other_crates_find_nothing() {
        let manifest = "[package]\nname = \"backtick-core\"\n[dependencies]\nserde = \"1\"\n";
        assert_eq!(resolve(manifest, no_workspace).as_deref(), Some("backtick_core"));
        assert_eq!(resolve("[package]\nname = \"app\"\n", no_workspace), None);
        assert_eq!(resolve("not toml [", no_workspace), None);
    }
}
