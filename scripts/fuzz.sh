#!/usr/bin/env bash
# Builds the fuzz target (fuzz/, the `Range` header parser) and runs it.
#
# fuzz/ is a workspace of its own (cargo-fuzz builds it with nightly-only
# sanitizer flags), so `cargo build` and `cargo test` never compile it: this
# script is what keeps an API change in livelog from breaking it unseen.
# .ci/run and the GitHub workflow both call it.
#
# Usage: scripts/fuzz.sh [seconds]   (default 30; 0 builds without running)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}

# fuzz/Cargo.lock is committed. `cargo fuzz` has no --locked, and a stale
# lock would be silently rewritten by the build (a dirty checkout): check it
# is current first, and say how to refresh it.
if ! cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null; then
    echo "fuzz/Cargo.lock is stale: run \`cargo update --workspace --manifest-path fuzz/Cargo.toml\` and commit it" >&2
    exit 1
fi

if cargo +nightly --version >/dev/null 2>&1; then
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        # From crates.io; about half a minute on 2 cores with a fresh cargo home.
        cargo install --locked cargo-fuzz --version 0.13.2 --debug
    fi
    started=$(date +%s)
    # Release build with debug assertions and AddressSanitizer (the defaults).
    cargo +nightly fuzz build range_header
    echo "fuzz build: $(( $(date +%s) - started ))s"
    if [ "$seconds" -gt 0 ]; then
        # Any crash or failed assertion exits non-zero and leaves the input
        # in fuzz/artifacts/range_header/ (ignored by git, like the corpus).
        cargo +nightly fuzz run range_header -- \
            -dict=fuzz/range_header.dict -max_total_time="$seconds"
    fi
else
    # libFuzzer's instrumentation needs a nightly toolchain, which a machine
    # with only stable (and no route to static.rust-lang.org, like CI's
    # fresh Debian) cannot get: compile the target at least, so the API it
    # uses is checked. The GitHub workflow installs nightly and runs it.
    cargo check --locked --manifest-path fuzz/Cargo.toml
    echo "fuzz run: skipped, no nightly toolchain here (cargo +nightly)"
fi
