//! `cargo xtask outside-app`: the README's application examples, built as a user builds them.
//!
//! `examples/outside-app` is a crate outside the workspace that depends on the backtick crates
//! by version (`backtick-postgres = "0.1"`, patched to this checkout). Each README block marked
//! `<!-- outside-app: PATH -->` must be that file of it (rustdoc's hidden `# ` lines shown),
//! and each block marked `<!-- outside-app: dependencies -->` must be lines of its Cargo.toml;
//! then it is built, offline, into the workspace's target directory.

use std::fs;
use std::path::Path;
use std::process::Command;

const APP: &str = "examples/outside-app";
const MARKER: &str = "<!-- outside-app: ";

/// Checks the README against the outside app, then builds the app's binaries and examples.
pub(crate) fn run() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    let readme = read(&root.join("README.md"))?;
    let app = root.join(APP);
    let checked = check(&readme, &app)?;
    eprintln!("xtask: the README's {checked} marked blocks match {APP}");
    let target = backtick_testkit::testdb::workspace_target_dir().map_err(|e| e.to_string())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = app.join("Cargo.toml");
    eprintln!("xtask: building {APP} (a crate outside the workspace, on backtick-postgres = \"0.1\")");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--offline",
            "--locked",
            "--bins",
            "--examples",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building {APP} failed ({status})"))
    }
}

/// Every marked block of `readme` against the app in `app`; the number of blocks checked.
fn check(readme: &str, app: &Path) -> Result<usize, String> {
    let manifest = read(&app.join("Cargo.toml"))?;
    let manifest_lines: Vec<String> = manifest.lines().map(toml_line).collect();
    let mut checked = 0;
    for (target, block) in marked_blocks(readme)? {
        if target == "dependencies" {
            for line in block.lines().map(toml_line).filter(|line| !line.is_empty()) {
                if !manifest_lines.contains(&line) {
                    return Err(format!(
                        "the README's dependency line `{line}` is not in {APP}/Cargo.toml: make them agree"
                    ));
                }
            }
        } else {
            let path = app.join(&target);
            let file = read(&path)?;
            if file.trim_end() != unhidden(&block).trim_end() {
                return Err(format!(
                    "the README's block for {target} differs from {}: make them agree",
                    path.display()
                ));
            }
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(format!("no `{MARKER}...` blocks in the README"));
    }
    Ok(checked)
}

/// `(target, code)` of each fenced block right after a marker line.
fn marked_blocks(readme: &str) -> Result<Vec<(String, String)>, String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(MARKER) else {
            continue;
        };
        let target = rest.trim_end_matches("-->").trim().to_owned();
        if !lines.next().is_some_and(|fence| fence.starts_with("```")) {
            return Err(format!(
                "the README's marker for {target} is not followed by a code block"
            ));
        }
        let code: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        blocks.push((target, code.join("\n")));
    }
    Ok(blocks)
}

/// The code rustdoc compiles: hidden lines (`# ...`) shown.
fn unhidden(block: &str) -> String {
    block
        .lines()
        .map(|line| match line {
            "#" => "",
            _ => line.strip_prefix("# ").unwrap_or(line),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A TOML line without its comment and surrounding blanks.
fn toml_line(line: &str) -> String {
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return line[..i].trim().to_owned(),
            _ => {}
        }
    }
    line.trim().to_owned()
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_unhidden_and_toml_comments_dropped() {
        let readme = "x\n<!-- outside-app: src/a.rs -->\n```rust\n# fn main() {\nlet a = 1;\n#\n# }\n```\n\
                      <!-- outside-app: dependencies -->\n```toml\nanyhow = \"1\"  # why\n```\n";
        let blocks = marked_blocks(readme).expect("blocks");
        assert_eq!(blocks.len(), 2);
        assert_eq!(unhidden(&blocks[0].1), "fn main() {\nlet a = 1;\n\n}");
        assert_eq!(toml_line(&blocks[1].1), "anyhow = \"1\"");
        assert_eq!(toml_line("a = \"#x\" # c"), "a = \"#x\"");
    }
}
