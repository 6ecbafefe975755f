#!/usr/bin/env bash
# Builds livelog for Windows (x86_64-pc-windows-gnu, or i686-pc-windows-gnu
# for 32-bit Windows, linked by Debian's mingw-w64) and runs the integration
# tests against that .exe under wine (Debian 12's wine 8.0: wine64, or
# wine32 from the i386 architecture): the tests stay Linux programs, and the
# harness runs the program named by LIVELOG_TEST_BIN, here a wrapper that
# starts the .exe under wine. Tests that cannot mean anything under wine are
# left out below, each group with its reason.
#
# Usage: scripts/wine-tests.sh [x86_64|i686] [--build-only]
#   --build-only  builds the .exe and its wrapper and runs no test (so that
#                 .ci/run can build one while another one's tests run).
# As root on Debian it installs what it lacks (apt, the i386 architecture
# for wine32, the rustup target).
#
# The .exe is built with the `wine` profile (Cargo.toml): the dev profile's
# code, dependencies at opt-level 1 and no debug info, for a fraction of the
# dev build's time on a cold machine.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=x86_64
build_only=0
for arg in "$@"; do
    case "$arg" in
        x86_64|i686) arch="$arg" ;;
        --build-only) build_only=1 ;;
        *) echo "wine-tests: unknown argument $arg (x86_64, i686, --build-only)" >&2; exit 2 ;;
    esac
done
triple="$arch-pc-windows-gnu"

# shellcheck source=scripts/lib/apt.sh
. scripts/lib/apt.sh

# Debian's wine64 package puts its loader in /usr/lib/wine (the `wine`
# package adds it to PATH); wine32:i386 puts the 32-bit loader, `wine`,
# beside it, and needs the i386 architecture.
find_wine() {
    local names
    if [ "$arch" = i686 ]; then names="/usr/lib/wine/wine"; else names="wine64 /usr/lib/wine/wine64"; fi
    for w in $names; do
        if command -v "$w" >/dev/null; then command -v "$w"; return 0; fi
    done
    return 1
}
if ! wine=$(find_wine); then
    if [ "$arch" = i686 ]; then
        if ! dpkg --print-foreign-architectures | grep -qx i386; then
            dpkg --add-architecture i386
        fi
        apt_install --no-install-recommends wine32:i386
    else
        apt_install --no-install-recommends wine64
    fi
    wine=$(find_wine)
fi
wineserver=/usr/lib/wine/wineserver
[ -x "$wineserver" ] || wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
gcc="$arch-w64-mingw32-gcc"
if ! command -v "$gcc" >/dev/null; then
    if [ "$arch" = i686 ]; then
        apt_install --no-install-recommends gcc-mingw-w64-i686
    else
        apt_install --no-install-recommends gcc-mingw-w64-x86-64
    fi
fi
command -v curl >/dev/null || apt_install --no-install-recommends curl
command -v openssl >/dev/null || apt_install --no-install-recommends openssl
rustup target add "$triple" >/dev/null 2>&1 || rustup target add "$triple"

started=$(date +%s)
echo "-- build livelog.exe ($triple, profile wine)"
cargo build --profile wine --target "$triple"
target_dir=${CARGO_TARGET_DIR:-target}
work=$(realpath "$target_dir")/wine-$arch
mkdir -p "$work"
cp "$target_dir/$triple/wine/livelog.exe" "$work/livelog.exe"
# Rust's std imports bcryptprimitives.dll!ProcessPrng, which wine 8.0 lacks;
# this stand-in, found beside the .exe before wine's own DLL, provides it.
# (32-bit: exported without its stdcall decoration, ProcessPrng@8.)
link_flags=()
# shellcheck disable=SC2054 # one linker flag, its comma included
[ "$arch" = i686 ] && link_flags=(-Wl,--kill-at)
"$gcc" -O2 -shared "${link_flags[@]}" -o "$work/bcryptprimitives.dll" \
    .ci/wine/bcryptprimitives.c .ci/wine/bcryptprimitives.def -ladvapi32
build_done=$(date +%s)

# A prefix of our own (32-bit for the 32-bit .exe), and one wineserver kept
# running for the whole run: without it each start of the .exe waits ~3 s
# for a new one.
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
if [ "$arch" = i686 ]; then export WINEARCH=win32; else export WINEARCH=win64; fi
mkdir -p "$WINEPREFIX"

# The harness starts this with an empty environment (plus PATH and livelog's
# variables), so it names the prefix itself. `exec` keeps the pid: killing it
# kills the Windows process.
printf '%s\n' '#!/bin/sh' \
    "export WINEPREFIX='$WINEPREFIX' WINEARCH='$WINEARCH' WINEDEBUG=-all" \
    "exec '$wine' '$work/livelog.exe' \"\$@\"" > "$work/livelog"
chmod +x "$work/livelog"
if [ "$build_only" = 1 ]; then
    echo "wine build ($arch): $((build_done - started))s"
    exit 0
fi

"$wineserver" -p
trap '"$wineserver" -k 2>/dev/null || true' EXIT
# Creates (or updates) the prefix once, so no test sees wine's set-up
# messages. (A 64-bit one says it cannot run the 32-bit rundll32 when
# wine32 is not installed; nothing needs it.)
"$wine" wineboot --init >/dev/null 2>&1 || true
echo "-- $("$work/livelog" --version) under $("$wine" --version) ($WINEARCH)"

left_out=(
    # SIGTERM: wine ends the Windows process on it as TerminateProcess
    # would, and Windows has no such signal. Windows' stop requests are the
    # console's Ctrl-C/Ctrl-Break/close; wine turns SIGINT into Ctrl-C, which
    # platform::the_stop_request_lets_a_finished_log_drain_and_exits_zero
    # tests.
    connections::sigterm_with_nothing_to_wait_for_exits_at_once
    connections::sigterm_during_an_upload_lets_it_finish_within_the_grace
    core::sigterm_exits_zero_and_lets_a_complete_log_drain
    core::sigterm_ends_a_live_read_incomplete_and_exits_zero
    # prlimit: Unix resource limits (file size, open files) with no Windows
    # counterpart; under wine they would limit (and SIGXFSZ would kill) wine.
    connections::a_streamed_upload_that_fills_the_disk_reads_its_507
    hardening::storage::storage_failure_gives_507_and_readers_end_incomplete
    hardening::storage::storage_failure_bursty_reader_gets_every_stored_byte
    hardening::storage::storage_failure_over_tls_gives_every_stored_byte_then_incomplete
    slow_readers::readers_beyond_a_low_inherited_open_files_limit_are_served
    # /proc of the daemon's pid: under wine that describes wine (sockets are
    # held by wineserver, memory includes wine's own).
    connections::connections_beyond_the_cap_are_closed_and_a_reader_is_served_later
    slow_readers::stalled_reader_costs_bounded_memory_and_then_gets_every_byte
    priorities::the_indexer_and_the_scan_threads_run_at_nice_19_and_nothing_else_does
    # Unix's promise (unlinked at creation, checked in /proc); Windows' own
    # (delete-on-close, nothing left after a hard kill) is
    # platform::a_hard_kill_leaves_nothing_in_the_temp_dir.
    core::temp_file_is_unlinked_even_after_sigkill
    # wine converts the Unix environment to Unicode itself, so a variable
    # that is not Unicode never reaches the Windows program.
    platform::environment::livelogs_own_variable_that_is_not_unicode_is_a_startup_error_naming_it
    # The process_* metrics are read from Linux's /proc; Windows has none.
    observe::process_metrics_are_exposed
)
skips=()
for t in "${left_out[@]}"; do skips+=(--skip "$t"); done

# Every integration test but the browser's: with LIVELOG_TEST_BIN set, the
# protocol tests too run that program rather than livelog in-process.
tests=(--test protocol --test process)
echo "-- integration tests against livelog.exe under wine (${#left_out[@]} left out, listed in $0)"
if ! LIVELOG_TEST_BIN="$work/livelog" cargo test --no-fail-fast "${tests[@]}" -- "${skips[@]}" \
        2>&1 | tee "$work/tests.log"; then
    # wine itself now and then fails to start a process when many start at
    # once on a busy machine (the .exe then exits at once, silently). Each
    # failed test gets one more run, alone; a real failure fails again.
    mapfile -t failed < <(sed -n '/^failures:$/,/^test result/p' "$work/tests.log" \
        | sed -n 's/^    \([a-z0-9_:]*\)$/\1/p' | sort -u)
    [ "${#failed[@]}" -gt 0 ] || exit 1
    echo "-- again, one at a time: ${failed[*]}"
    for t in "${failed[@]}"; do
        LIVELOG_TEST_BIN="$work/livelog" cargo test "${tests[@]}" -- --exact "$t" --test-threads=1
    done
fi
echo "wine tests ($arch): build $((build_done - started))s, tests $(($(date +%s) - build_done))s"
