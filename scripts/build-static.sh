#!/usr/bin/env bash
# Builds the fully static livelog binary and proves it is static.
#
# This is the ONE build command for shipped binaries: the Dockerfile's builder
# stage, .ci/run and the release workflow all call this script, so the image,
# the release assets and the CI check are built the same way.
#
# Usage: scripts/build-static.sh [--rootfs DIR] [--no-run] [ARCH|TRIPLE]
#
#   ARCH|TRIPLE  x86_64 / amd64, aarch64 / arm64, or a full *-linux-gnu
#                triple (default: this machine, from `uname -m`).
#   --rootfs DIR also lays out the container image's root file system in DIR:
#                DIR/livelog (0755) and an empty DIR/tmp (1777, like /tmp
#                on any Unix: writable by whatever user the container runs
#                as), exactly what the Dockerfile's final `FROM scratch`
#                stage copies.
#   --no-run     skip the run checks (they are skipped anyway, with a message,
#                when the binary is for another architecture).
#   --check BIN  build nothing: run checks 1-3 on BIN, a binary this script
#                built elsewhere (.ci/run checks the one in the image it
#                built from the Dockerfile, rather than build it twice).
#
# How: glibc with `-C target-feature=+crt-static` (no musl target needed).
# The explicit --target keeps RUSTFLAGS away from build scripts and
# proc-macros, which must stay dynamic host programs.
#
# Checks, in order (any failure exits non-zero):
#   1. `file` says the binary is statically linked (or static-pie).
#   2. Copied alone into an empty root (plus an empty /tmp), it runs under
#      `chroot`: `/livelog --version` prints `livelog <version> (commit …)`.
#   3. In that same empty root, as the image's user 65532:65532, it starts,
#      takes an upload with curl and serves it back byte for byte: nothing
#      else (no /etc, no libc.so, no NSS) is needed at run time.
# Checks 2 and 3 need root (or passwordless sudo) for chroot.
#
# Output: progress on stderr; the path of the binary is the last line on
# stdout, so `bin=$(scripts/build-static.sh)` works.
set -euo pipefail
cd "$(dirname "$0")/.."

rootfs=""
run_checks=1
prebuilt=""
arch=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rootfs) rootfs="${2:?--rootfs needs a directory}"; shift 2 ;;
        --no-run) run_checks=0; shift ;;
        --check) prebuilt="${2:?--check needs a binary}"; shift 2 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        -*) echo "build-static: unknown option $1" >&2; exit 2 ;;
        *) arch="$1"; shift ;;
    esac
done
arch="${arch:-$(uname -m)}"

case "$arch" in
    x86_64|amd64) triple=x86_64-unknown-linux-gnu ;;
    aarch64|arm64) triple=aarch64-unknown-linux-gnu ;;
    *-linux-gnu*) triple="$arch" ;;
    *) echo "build-static: unsupported architecture '$arch' (x86_64, aarch64 or a *-linux-gnu triple)" >&2; exit 2 ;;
esac
target_arch="${triple%%-*}"
host_arch="$(uname -m)"
log() { echo "build-static: $*" >&2; }

# The version the binary reports: LIVELOG_VERSION when the build sets its
# own (build.rs; the release workflow and the Dockerfile do), else
# Cargo.toml's.
version="${LIVELOG_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)}"
[ -n "$version" ] || { log "cannot read the version from Cargo.toml"; exit 1; }

# Cross-compiling (e.g. aarch64 on an x86_64 runner, or in the Docker builder
# stage under buildx): use the Debian cross toolchain unless told otherwise.
if [ "$target_arch" != "$host_arch" ]; then
    env_triple="$(echo "$triple" | tr 'a-z-' 'A-Z_')"
    linker_var="CARGO_TARGET_${env_triple}_LINKER"
    gcc="${target_arch}-linux-gnu-gcc"
    if [ -z "${!linker_var:-}" ]; then
        export "$linker_var=$gcc"
    fi
    cc_var="CC_$(echo "$triple" | tr '-' '_')"
    if [ -z "${!cc_var:-}" ]; then
        export "$cc_var=$gcc"
    fi
    if command -v rustup > /dev/null && ! rustup target list --installed | grep -qx "$triple"; then
        rustup target add "$triple" >&2
    fi
fi

if [ -n "$prebuilt" ]; then
    bin="$prebuilt"
    log "checking $bin (built elsewhere)"
else
    log "building livelog $version for $triple (glibc, +crt-static)"
    started=$(date +%s)
    # Shipped binaries carry no symbol table (CARGO_PROFILE_RELEASE_STRIP, as
    # the release workflow sets it): 1.2 MB less of 7.95 MB for x86_64, which
    # keeps the image under its 8 MB bound. A panic's backtrace then names
    # no functions; `cargo build --release` for development keeps them.
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
        CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo build --release --locked --target "$triple" >&2
    log "build took $(( $(date +%s) - started ))s"
    bin="${CARGO_TARGET_DIR:-target}/$triple/release/livelog"
fi
[ -x "$bin" ] || { log "no binary at $bin"; exit 1; }
log "binary: $bin, $(stat -c %s "$bin") bytes"

# 1. Static?
if ! command -v file > /dev/null; then
    log "the 'file' command is missing (Debian: apt-get install file)"
    exit 1
fi
description="$(file -b "$bin")"
log "file: $description"
case "$description" in
    *"dynamically linked"*|*interpreter*)
        log "FAIL: $bin is dynamically linked"; exit 1 ;;
    *"statically linked"*|*"static-pie linked"*) ;;
    *) log "FAIL: cannot tell from 'file' that $bin is static"; exit 1 ;;
esac

# The image's root file system: the binary and an empty /tmp that any user
# can write to (sticky, 1777): the image's user 65532, or any other UID the
# container is run as (`--user 1000:0`, Kubernetes' runAsUser).
lay_out_rootfs() {
    local dir="$1"
    mkdir -p "$dir/tmp"
    install -m 0755 "$bin" "$dir/livelog"
    chmod 1777 "$dir/tmp"
}
if [ -n "$rootfs" ]; then
    lay_out_rootfs "$rootfs"
    log "image root file system laid out in $rootfs"
fi

if [ "$run_checks" = 0 ]; then
    log "run checks skipped (--no-run)"
elif [ "$target_arch" != "$host_arch" ]; then
    log "run checks skipped: the binary is for $target_arch, this machine is $host_arch"
else
    if [ "$(id -u)" = 0 ]; then
        as_root=()
    elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
        as_root=(sudo -n)
    else
        log "FAIL: the run checks need root or passwordless sudo for chroot (or pass --no-run)"
        exit 1
    fi
    chroot_bin="$(command -v chroot || true)"
    [ -n "$chroot_bin" ] || { log "FAIL: no chroot command (coreutils)"; exit 1; }
    # Beside the binary, not in /tmp: /tmp may be mounted noexec.
    work="$(mktemp -d "$(dirname "$(realpath "$bin")")/static-check.XXXXXX")"
    daemon_pid=""
    cleanup() {
        if [ -n "$daemon_pid" ]; then
            "${as_root[@]}" kill "$daemon_pid" 2> /dev/null || true
            wait "$daemon_pid" 2> /dev/null || true
        fi
        "${as_root[@]}" rm -rf "$work"
    }
    trap cleanup EXIT
    root="$work/root"
    "${as_root[@]}" bash -c "$(declare -f lay_out_rootfs); bin='$bin'; lay_out_rootfs '$root'"
    log "empty root for the run checks: $(cd "$root" && find . | sort | tr '\n' ' ')"

    # 2. --version with nothing else present.
        got="$("${as_root[@]}" env -i "$chroot_bin" "$root" /livelog --version)"
    if [[ $got != "livelog $version (commit "*")" ]]; then
        log "FAIL: chroot /livelog --version printed '$got', expected 'livelog $version (commit ...)'"
        exit 1
    fi
    log "chroot $root /livelog --version: $got"

    # 3. Serve a log, as the image's non-root user, with nothing else present.
    "${as_root[@]}" env -i ACCESS_TOKEN=staticcheck LIVELOG_PUT_PORT=0 LIVELOG_GET_PORT=0 \
        "$chroot_bin" --userspec=65532:65532 "$root" /livelog 2> "$work/stderr" &
    daemon_pid=$!
    put="" get=""
    for _ in $(seq 1 100); do
        line="$(grep -m 1 'livelog ready' "$work/stderr" || true)"
        if [ -n "$line" ]; then
            put="$(echo "$line" | sed -n 's/.* put=\([0-9.:]*\).*/\1/p')"
            get="$(echo "$line" | sed -n -E 's/.* get=[^ ]*:([0-9]+)( .*)?$/\1/p')"
            break
        fi
        kill -0 "$daemon_pid" 2> /dev/null || break
        sleep 0.1
    done
    if [ -z "$put" ] || [ -z "$get" ]; then
        log "FAIL: livelog did not start in the empty root; its stderr:"
        cat "$work/stderr" >&2
        exit 1
    fi
    printf 'static line 1\nstatic line 2\n' > "$work/log.txt"
    curl -sS --max-time 10 -T "$work/log.txt" "http://$put/log" > /dev/null
    curl -sS --max-time 10 -o "$work/got.txt" "http://127.0.0.1:$get/log/staticcheck"
    if ! cmp -s "$work/log.txt" "$work/got.txt"; then
        log "FAIL: the log read back from the chroot'ed livelog differs; its stderr:"
        cat "$work/stderr" >&2
        exit 1
    fi
    log "chroot --userspec=65532:65532 $root /livelog: served an upload back byte for byte"
fi

echo "$bin"
