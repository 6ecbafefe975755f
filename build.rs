//! Build metadata for `livelog --version`: the version (Cargo.toml's, or
//! `LIVELOG_VERSION` when a release build sets its own, as a Taskcluster
//! release does) and the commit it was built from (`LIVELOG_COMMIT`, else
//! `git rev-parse HEAD` when building in a git checkout, else `unknown`).

use std::path::Path;
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
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let git_dir = String::from_utf8(git_dir.stdout).ok()?;
    let git_dir = Path::new(git_dir.trim());
    // HEAD names a branch whose ref file (or packed-refs) moves on commit.
    for file in ["HEAD", "packed-refs"] {
        println!("cargo:rerun-if-changed={}", git_dir.join(file).display());
    }
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            println!(
                "cargo:rerun-if-changed={}",
                git_dir.join(reference).display()
            );
        }
    }
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8(out.stdout).ok()
}
