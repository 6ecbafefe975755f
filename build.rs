//! Build metadata for `livelog --version`: the version (Cargo.toml's, or
//! `LIVELOG_VERSION` when a release build sets its own, as a Taskcluster
//! release does) and the commit it was built from (`LIVELOG_COMMIT`, else
//! `git rev-parse HEAD` when building in a git checkout, else `unknown`).
//!
//! The script asks cargo to run it again only when the commit may have
//! moved, and names only files that exist: cargo counts a watched file that
//! is missing as changed, so watching one (`packed-refs` in a checkout that
//! has none) would compile livelog again on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIVELOG_VERSION");
    println!("cargo:rerun-if-env-changed=LIVELOG_COMMIT");
    let version = std::env::var("LIVELOG_VERSION")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    let commit = std::env::var("LIVELOG_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIVELOG_BUILD_VERSION={}", version.trim());
    // A full hash (a CI system's) is shown as git's short form is.
    let commit = commit.trim();
    let commit = if commit.len() > 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        &commit[..12]
    } else {
        commit
    };
    println!("cargo:rustc-env=LIVELOG_BUILD_COMMIT={commit}");
}

/// The checkout's HEAD commit (12 hex digits), rebuilt when HEAD moves.
fn git_commit() -> Option<String> {
    // A worktree's own git dir (`.git/worktrees/NAME`) holds its HEAD; the
    // branches are in the common dir (`.git`), shared by every worktree.
    let git_dir = git(&["rev-parse", "--git-dir"])?;
    let common_dir = git(&["rev-parse", "--git-common-dir"])?;
    watch_head(&absolute(&git_dir), &absolute(&common_dir));
    git(&["rev-parse", "--short=12", "HEAD"])
}

/// Tells cargo which existing files say where HEAD points: HEAD itself
/// (a checkout or a detached commit rewrites it) and the branch it names.
fn watch_head(git_dir: &Path, common_dir: &Path) {
    let head = git_dir.join("HEAD");
    watch(&head);
    // Git 2.45's reftable format keeps every ref in `reftable/`.
    watch(&common_dir.join("reftable"));
    let Ok(text) = std::fs::read_to_string(&head) else {
        return;
    };
    let Some(reference) = text.trim().strip_prefix("ref: ") else {
        return; // Detached: HEAD holds the commit.
    };
    let loose = common_dir.join(reference);
    if loose.is_file() {
        // A commit rewrites the branch's file; `git pack-refs` removes it,
        // which cargo sees as a change, and the next run watches packed-refs.
        watch(&loose);
        return;
    }
    // The branch is packed (or has no commit yet): its commit is in
    // packed-refs, and the next commit writes its file, which changes the
    // nearest directory above it that exists.
    watch(&common_dir.join("packed-refs"));
    let mut above = loose.ancestors().skip(1);
    if let Some(dir) = above.find(|d| d.starts_with(common_dir) && d.is_dir()) {
        watch(dir);
    }
}

/// `cargo:rerun-if-changed` for `path` if it exists: cargo takes a missing
/// file for a changed one, and would run this script on every build.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `path` (git's answer, relative to this script's directory, the package's)
/// made absolute, so that cargo and the checks above read the same file.
fn absolute(path: &str) -> PathBuf {
    let path = Path::new(path);
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) if path.is_relative() => Path::new(&dir).join(path),
        _ => path.to_owned(),
    }
}

/// Runs git with `args` in the package's directory; its first line of
/// output, if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.lines().next()?.trim().to_owned())
}
