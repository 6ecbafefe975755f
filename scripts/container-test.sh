#!/usr/bin/env bash
# Builds the livelog image from our Dockerfile (unchanged, only build args)
# for linux/amd64 and linux/arm64, and runs it the ways users run it; prints
# a PASS/FAIL table and exits non-zero if any case fails.
#
# Usage:
#   scripts/container-test.sh                    # podman: build both images, run every case
#   scripts/container-test.sh --only 'stop'      # the same, only the cases whose name matches
#   scripts/container-test.sh --engine docker --image livelog:X --arm64-image livelog:X-arm64
#                                                # test images built elsewhere (the GitHub workflow)
#   scripts/container-test.sh --build-only       # podman: build both images, run no case
#                                                # (then --image/--arm64-image to run them)
#
# With podman (the default) it needs no registry: as root on Debian it
# installs podman, runc, mmdebstrap and qemu-user-static, makes the builder
# stage's base image itself (Debian bookworm from apt plus this machine's Rust
# toolchain and CA bundle; cached, keyed on both) and passes it as
# --build-arg RUST_IMAGE. Images: livelog:<version> (this machine's
# architecture) and livelog:<version>-<other architecture>.
#
# Cases, each shown by a real upload through the container read back
# byte-exact with curl, then `stop` and exit code 0:
#   host network (the default set-up), --read-only, --read-only --tmpfs /tmp,
#   --user 1000:0, --user 1000:1000, bridge network with LIVELOG_PUT_HOST and
#   both ports published on 127.0.0.1 only, HTTPS with a read-only mounted
#   certificate and key; `--version` equals the image's version label; each
#   image at most 8 MB with a numeric non-root user and a 1777 /tmp; the other
#   architecture's /livelog serving an upload under qemu-user (no binfmt).
# And how long `stop` takes: quick (< 1 s) when no upload is in progress and
# every reader has all the bytes; the 5 s grace while an upload runs or a
# reader still drains stored bytes.
#
# Host-network cases use ports 60022 and 60023 (the defaults, as in the
# README and docs/install.md); set CONTAINER_TEST_PUT_PORT / CONTAINER_TEST_GET_PORT (below
# 32768, outside the ephemeral port range) if these are taken here.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=podman
build_only=0
image=""
other_image=""
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --engine) engine="${2:?--engine needs podman or docker}"; shift 2 ;;
        --image) image="${2:?--image needs an image}"; shift 2 ;;
        --arm64-image|--other-image) other_image="${2:?$1 needs an image}"; shift 2 ;;
        --only) only="${2:?--only needs a pattern}"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "container-test: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$engine" in
    podman|docker) ;;
    *) echo "container-test: --engine must be podman or docker" >&2; exit 2 ;;
esac
if [ "$engine" = podman ] && [ "$(id -u)" != 0 ]; then
    # Rootless podman (and mmdebstrap's unshare mode) are not what CI runs.
    echo "container-test: with podman, run as root (sudo scripts/container-test.sh)" >&2
    exit 2
fi
if [ "$engine" = docker ] && [ -z "$image" ]; then
    # Building needs a registry for rust:1-bookworm: docker builds it itself.
    echo "container-test: with --engine docker, build the images first and pass --image (and --arm64-image)" >&2
    exit 2
fi

script_started=$(date +%s)
log() { echo "container-test: $*" >&2; }
# Shows the command (as a user would type it) in the log, then runs it.
show() { echo "\$ $*" >&2; "$@"; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || { log "cannot read the version from Cargo.toml"; exit 1; }

arch_of() {
    case "$1" in
        x86_64|amd64) echo amd64 ;;
        aarch64|arm64) echo arm64 ;;
        *) echo "container-test: unsupported architecture $1" >&2; return 1 ;;
    esac
}
host_arch="$(arch_of "$(uname -m)")"
if [ "$host_arch" = amd64 ]; then other_arch=arm64; else other_arch=amd64; fi
qemu="qemu-$([ "$other_arch" = arm64 ] && echo aarch64 || echo x86_64)-static"

# --- what this script needs, installed when missing (root or sudo, Debian)
as_root=()
if [ "$(id -u)" != 0 ]; then as_root=(sudo -n); fi
need=(curl:curl openssl:openssl file:file ss:iproute2 "$qemu":qemu-user-static)
if [ "$engine" = podman ]; then
    # runc: crun fails where the host's cgroups are in hybrid mode.
    # containernetworking-plugins and iptables: podman's bridge network and
    # its published ports.
    need+=(podman:podman runc:runc mmdebstrap:mmdebstrap iptables:iptables
           /usr/lib/cni/portmap:containernetworking-plugins)
fi
missing=()
for pair in "${need[@]}"; do
    command -v "${pair%%:*}" > /dev/null || [ -x "${pair%%:*}" ] || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get > /dev/null || { [ ${#as_root[@]} -gt 0 ] && ! sudo -n true 2> /dev/null; }; then
        log "missing: ${missing[*]} (install them, or run as root on Debian)"
        exit 1
    fi
    log "installing ${missing[*]}"
    # The lock timeout: another apt may be running on a shared machine.
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# Podman as root here: its default ulimits exceed the hard limits (it cannot
# raise them without CAP_SYS_RESOURCE), so ask for the hard limits.
run_flags=()
if [ "$engine" = podman ]; then
    hard_nofile=$(ulimit -Hn); hard_nproc=$(ulimit -Hu)
    if [ "$hard_nofile" = unlimited ]; then hard_nofile=1048576; fi
    if [ "$hard_nproc" = unlimited ] || [ "$hard_nproc" -gt 4096 ]; then hard_nproc=4096; fi
    run_flags=(--runtime runc --ulimit "nofile=$hard_nofile:$hard_nofile"
               --ulimit "nproc=$hard_nproc:$hard_nproc")
fi

# /var/tmp: the base image's tarball is large, /tmp may be a small tmpfs.
work="$(mktemp -d /var/tmp/livelog-container-test.XXXXXX)"
prefix="livelog-ct-$$"
cleanup() {
    local names
    names="$("$engine" ps -a --format '{{.Names}}' 2> /dev/null | grep "^$prefix-" || true)"
    if [ -n "$names" ]; then
        # shellcheck disable=SC2086 # one name per word
        "$engine" rm -f $names > /dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- results
names=() results=() details=()
record() {
    names+=("$1") results+=("$2") details+=("$3")
    log "$2: $1: $3"
}
print_table() {
    local i width=4 failed=0
    for i in "${!names[@]}"; do
        if [ "${#names[$i]}" -gt "$width" ]; then width=${#names[$i]}; fi
    done
    echo
    echo "== container tests: livelog $version, $engine$([ "$engine" = podman ] && echo " (runc)"), images $image and $other_image, $(( $(date +%s) - script_started ))s"
    printf "%-${width}s  %-6s  %s\n" case result detail
    for i in "${!names[@]}"; do
        printf "%-${width}s  %-6s  %s\n" "${names[$i]}" "${results[$i]}" "${details[$i]}"
        [ "${results[$i]}" = PASS ] || failed=$((failed + 1))
    done
    echo "== ${#names[@]} cases, $failed failed"
    [ "$failed" = 0 ]
}

# Runs one case, `case_NAME "$@"`, in a subshell with errexit: fail() (or
# any failing command) ends it; the last note() or fail() is its detail.
run_case() {
    local title="$1"; shift
    if [ -n "$only" ] && ! [[ $title =~ $only ]]; then return 0; fi
    log "--- $title"
    : > "$work/detail"
    set +e
    (
        set -eE
        trap 'echo "failed (exit $?): $BASH_COMMAND" > "$work/detail"' ERR
        "$@"
    )
    local rc=$?
    set -e
    if [ $rc = 0 ]; then
        record "$title" PASS "$(cat "$work/detail")"
    else
        record "$title" FAIL "$(cat "$work/detail")"
    fi
    # A failed case may leave its container: remove it now, so that its
    # ports are free for the next case.
    local leftover
    leftover="$("$engine" ps -a --format '{{.Names}}' | grep "^$prefix-" || true)"
    if [ -n "$leftover" ]; then
        # shellcheck disable=SC2086 # one name per word
        "$engine" rm -f $leftover > /dev/null 2>&1 || true
    fi
}
note() { echo "$*" > "$work/detail"; }
fail() { echo "$*" > "$work/detail"; exit 1; }

# --- building (podman only, unless --image says what to test)
build_failed=0
make_base() {
    # The Rust toolchain to copy in: the one that builds livelog here, with
    # the other architecture's standard library added.
    local sysroot triple
    sysroot="$(rustc --print sysroot)"
    # A rustup toolchain is a tree of its own; a distribution's rustc in /usr
    # cannot be copied apart from the rest of /usr.
    if [ ! -x "$sysroot/bin/cargo" ] || [ "$sysroot" = /usr ]; then
        fail "the Rust toolchain at $sysroot is not a self-contained rustup toolchain (install Rust with rustup)"
    fi
    for triple in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
        if [ ! -d "$sysroot/lib/rustlib/$triple/lib" ]; then
            command -v rustup > /dev/null || fail "the Rust toolchain at $sysroot has no $triple standard library, and there is no rustup to add it"
            show rustup target add "$triple" >&2
        fi
    done
    # Only these two targets' standard libraries go in (not the docs, nor
    # rust-src or other targets the toolchain may have): a smaller base, and
    # one that stays cached when a target is added here for something else.
    local excludes=(--exclude=./share/doc) dir
    for dir in "$sysroot"/lib/rustlib/*/; do
        dir="$(basename "$dir")"
        case "$dir" in
            x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu|etc) ;;
            *) excludes+=("--exclude=./lib/rustlib/$dir") ;;
        esac
    done
    # Cache key: what goes into the base. A new toolchain (rustc -vV names
    # its commit), CA bundle or recipe makes a new base; otherwise the base
    # from an earlier run is used.
    local recipe="bookworm minbase ca-certificates,gcc,libc6-dev,file; rust (x86_64, aarch64 linux-gnu) in /usr/local/rust; v2"
    local key
    key="$({ echo "$recipe"; rustc -vV; cat /etc/ssl/certs/ca-certificates.crt; } | sha256sum | cut -c1-16)"
    base="localhost/livelog-builder:$key"
    if podman image exists "$base"; then
        note "$base (cached)"
        echo "$base" > "$work/base"
        return 0
    fi
    local started
    started=$(date +%s)
    # minbase plus what the Dockerfile's builder stage expects of
    # rust:1-bookworm: gcc and libc headers (ring, linking), file (the static
    # check), CA certificates (cargo fetches from crates.io), and apt sources
    # (the Dockerfile installs the cross compiler with apt-get). The host's
    # CA bundle and local CAs go in too: whatever lets this machine reach
    # crates.io lets the build.
    # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
    show mmdebstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev,file \
        --aptopt='Acquire::Retries "3"' \
        --customize-hook='mkdir -p "$1/usr/local/rust" "$1/usr/local/share/ca-certificates"' \
        --customize-hook="tar -C '$sysroot' ${excludes[*]} -c . | tar -C \"\$1/usr/local/rust\" -x" \
        --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
        --customize-hook='if [ -d /usr/local/share/ca-certificates ]; then cp -r /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"; fi' \
        bookworm "$work/base.tar" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" < /dev/null
    # CARGO_HOME where rust:1-bookworm has it: the Dockerfile's cache mount
    # is /usr/local/cargo/registry.
    show podman import \
        --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV CARGO_HOME=/usr/local/cargo' \
        "$work/base.tar" "$base" > /dev/null
    rm -f "$work/base.tar"
    # Earlier bases (another toolchain) are 700 MB each: keep only this one.
    local old
    old="$(podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/livelog-builder:' | grep -v ":$key\$" || true)"
    if [ -n "$old" ]; then
        # shellcheck disable=SC2086 # one name per word
        podman rmi $old > /dev/null || true
    fi
    note "$base, made in $(( $(date +%s) - started ))s"
    echo "$base" > "$work/base"
}
build_image() {
    local arch="$1" tag="$2" started
    started=$(date +%s)
    # buildah 1.28 (podman 4.3) does not set the BUILD*/TARGET* arguments for
    # --platform itself; --isolation chroot: RUN steps need no runtime;
    # --layers: the apt step is cached; the cargo registry and target
    # directory are the Dockerfile's cache mounts, kept between builds.
    show podman build --isolation chroot --layers --pull-never \
        --platform "linux/$arch" \
        --build-arg "BUILDPLATFORM=linux/$host_arch" --build-arg "BUILDARCH=$host_arch" \
        --build-arg "TARGETARCH=$arch" \
        --build-arg "RUST_IMAGE=$(cat "$work/base")" \
        --build-arg "VERSION=$version" \
        --build-arg "COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
        -t "$tag" "$work/context" >&2
    note "$tag, built in $(( $(date +%s) - started ))s"
}
# The build context: this checkout as it is (uncommitted changes included;
# the Dockerfile's .dockerignore applies as usual), every file's mtime set to
# now. The target cache mount is shared by every build on this machine, and
# cargo tells a changed source by its mtime being newer than the last build:
# a file from another checkout, older than that build, would be taken as
# built, and the image would ship that other checkout's binary. buildah's
# layer cache compares contents, so unchanged sources still reuse every
# layer.
copy_context() {
    rm -rf "$work/context"
    mkdir -p "$work/context"
    tar -C . --exclude=./.git --exclude=target -c . | tar -C "$work/context" -x --touch
}

if [ -z "$image" ]; then
    image="livelog:$version"
    other_image="livelog:$version-$other_arch"
    only_saved="$only" only=""
    copy_context
    run_case "builder base image (bookworm + this Rust)" make_base
    if [ "${results[-1]}" = PASS ]; then
        run_case "build linux/$host_arch from the Dockerfile" build_image "$host_arch" "$image"
        [ "${results[-1]}" = PASS ] || build_failed=1
        run_case "build linux/$other_arch from the Dockerfile" build_image "$other_arch" "$other_image"
        [ "${results[-1]}" = PASS ] || build_failed=1
    else
        build_failed=1
    fi
    only="$only_saved"
    if [ "$build_failed" = 1 ]; then
        print_table || true
        exit 1
    fi
    if [ "$build_only" = 1 ]; then
        print_table
        exit 0
    fi
fi

# --- the test data and settings shared by the cases
# A fresh token per run; passed as `-e ACCESS_TOKEN` (from the environment),
# so it is on no command line and in no log line of this script.
ACCESS_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export ACCESS_TOKEN
put_port="${CONTAINER_TEST_PUT_PORT:-60022}"
get_port="${CONTAINER_TEST_GET_PORT:-60023}"
port_env=()
[ "$put_port" = 60022 ] || port_env+=(-e "LIVELOG_PUT_PORT=$put_port")
[ "$get_port" = 60023 ] || port_env+=(-e "LIVELOG_GET_PORT=$get_port")
# 1 MiB of random bytes: any byte value, more than one read or write.
head -c 1048576 /dev/urandom > "$work/upload.bin"

# Any socket on the port but those in TIME-WAIT (livelog binds with
# SO_REUSEADDR): a listener, or an outgoing connection that got the port as
# its local port (60022 and 60023 lie in Linux's default ephemeral range,
# 32768-60999, so on a machine busy with connections that happens).
port_users() { ss -Htanp "( sport = :$1 )" 2> /dev/null | grep -v '^TIME-WAIT' || true; }
# Waits up to 30 s for both ports to be free: a short-lived connection
# holding one goes away.
ports_free() {
    local p users
    for p in "$put_port" "$get_port"; do
        for _ in $(seq 1 300); do
            users="$(port_users "$p")"
            [ -z "$users" ] && break
            sleep 0.1
        done
        [ -z "$users" ] || fail "port $p is in use on this machine ($(echo "$users" | head -n 1 | tr -s ' ')); set CONTAINER_TEST_PUT_PORT / CONTAINER_TEST_GET_PORT to free ports below 32768"
    done
}

# Starts a container (name suffix, then `run` options) and waits for its
# ready line; a start-up error fails the case with livelog's own message.
start() {
    local name="$prefix-$1"; shift
    local out i
    echo "\$ $engine run -d --name $name ${run_flags[*]} $* $image" >&2
    out="$("$engine" run -d --name "$name" "${run_flags[@]}" "$@" "$image" 2>&1)" ||
        fail "$engine run failed: $(echo "$out" | tail -n 1)"
    for i in $(seq 1 300); do
        out="$("$engine" logs "$name" 2>&1 || true)"
        [[ $out == *"livelog ready"* ]] && return 0
        if [ "$("$engine" inspect -f '{{.State.Running}}' "$name")" != true ]; then
            out="$("$engine" logs "$name" 2>&1 || true)"
            [[ $out == *"livelog ready"* ]] && return 0
            fail "exited at start: $(echo "$out" | grep -v '^$' | tail -n 1)"
        fi
        sleep 0.1
    done
    fail "no ready line after 30 s"
}
# Uploads upload.bin through PUT_URL, reads it back from GET_URL with curl
# (extra curl options after the URLs), and compares.
roundtrip() {
    local put="$1" get="$2"; shift 2
    rm -f "$work/got.bin"
    curl -fsS --max-time 60 -T "$work/upload.bin" -o /dev/null "$put/log" ||
        fail "upload to $put/log failed (curl exit $?)"
    curl -fsS --max-time 60 "$@" -o "$work/got.bin" "$get/log/$ACCESS_TOKEN" ||
        fail "read from $get/log/<token> failed (curl exit $?)"
    cmp -s "$work/upload.bin" "$work/got.bin" ||
        fail "read back $(stat -c %s "$work/got.bin") bytes that differ from the $(stat -c %s "$work/upload.bin") uploaded"
}
# `stop` (the engine's default timeout, 10 s); sets stop_ms; fails unless
# livelog exited 0 and kept the token out of its log.
stop() {
    local name="$prefix-$1" t0 code
    t0=$(date +%s%N)
    show "$engine" stop "$name" > /dev/null
    stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    code="$("$engine" inspect -f '{{.State.ExitCode}}' "$name")"
    [ "$code" = 0 ] || fail "exit code $code after stop ($stop_ms ms): $("$engine" logs "$name" 2>&1 | tail -n 1 || true)"
    # Captured first: `logs | grep -q` fails under pipefail when grep
    # stops reading at a match.
    local out
    out="$("$engine" logs "$name" 2>&1)"
    if [[ $out == *"$ACCESS_TOKEN"* ]]; then
        fail "the access token reached the container's log"
    fi
    "$engine" rm "$name" > /dev/null
}
host_urls() { put_url="http://127.0.0.1:$put_port"; get_url="http://127.0.0.1:$get_port"; }

# --- image cases
# The image's root file system as the engine has it (create, export: no run,
# so this works for the other architecture too).
export_image() {
    local img="$1" dir="$2" name="$prefix-export"
    "$engine" create --name "$name" "$img" > /dev/null
    mkdir -p "$dir"
    "$engine" export "$name" > "$dir.tar"
    "$engine" rm "$name" > /dev/null
    tar -tvf "$dir.tar" > "$dir.list"
    tar -C "$dir" -xf "$dir.tar" livelog
}
case_image() {
    local img="$1" arch="$2" size user label tmp os_arch
    os_arch="$("$engine" image inspect -f '{{.Os}}/{{.Architecture}}' "$img")"
    [ "$os_arch" = "linux/$arch" ] || fail "architecture $os_arch, want linux/$arch"
    size="$("$engine" image inspect -f '{{.Size}}' "$img")"
    [ "$size" -le 8000000 ] || fail "$size bytes, over 8 MB"
    user="$("$engine" image inspect -f '{{.Config.User}}' "$img")"
    if ! [[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] || [ "${user%%:*}" = 0 ]; then
        fail "user '$user': want a numeric non-root user"
    fi
    label="$("$engine" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$img")"
    [ "$label" = "$version" ] || fail "version label '$label', Cargo.toml says $version"
    export_image "$img" "$work/rootfs-$arch"
    tmp="$(grep -m 1 -E ' \.?/?tmp/?$' "$work/rootfs-$arch.list" || true)"
    [[ $tmp == drwxrwxrwt* ]] || fail "/tmp in the image: '${tmp:-missing}', want drwxrwxrwt (1777)"
    grep -qE '^-rwxr-xr-x .* \.?/?livelog$' "$work/rootfs-$arch.list" || fail "no executable /livelog in the image"
    note "linux/$arch, $size bytes ($(awk "BEGIN{printf \"%.2f\", $size/1e6}") MB), user $user, /tmp 1777, label $label"
}
case_version() {
    local label got
    label="$("$engine" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")"
    got="$(show "$engine" run --rm "${run_flags[@]}" "$image" --version)"
        [[ $got == "livelog $label (commit "*")" ]] || fail "printed '$got', the label says $label"
    note "$got"
}
# The other architecture's binary, run under qemu-user (no binfmt needed):
# --version, then a real upload served back byte-exact.
case_other_arch_serves() {
    local bin="$work/rootfs-$other_arch/livelog" desc got label line put get pid code
    [ -x "$bin" ] || export_image "$other_image" "$work/rootfs-$other_arch"
    desc="$(file -b "$bin")"
    case "$other_arch:$desc" in
        arm64:*aarch64*|amd64:*x86-64*) ;;
        *) fail "/livelog is not a $other_arch binary: $desc" ;;
    esac
    [[ $desc == *"statically linked"* || $desc == *"static-pie linked"* ]] || fail "/livelog is not static: $desc"
    label="$("$engine" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$other_image")"
    got="$("$qemu" "$bin" --version)"
    [[ $got == "livelog $label (commit "*")" ]] || fail "$qemu /livelog --version printed '$got', the label says $label"
    mkdir -p "$work/qemu-tmp"
    env -i ACCESS_TOKEN="$ACCESS_TOKEN" LIVELOG_PUT_PORT=0 LIVELOG_GET_PORT=0 LIVELOG_TEMP_DIR="$work/qemu-tmp" \
        "$qemu" "$bin" 2> "$work/qemu.err" &
    pid=$!
    for _ in $(seq 1 300); do
        line="$(grep -m 1 'livelog ready' "$work/qemu.err" || true)"
        [ -n "$line" ] && break
        kill -0 "$pid" 2> /dev/null || fail "exited at start: $(tail -n 1 "$work/qemu.err")"
        sleep 0.1
    done
    [ -n "$line" ] || { kill "$pid"; fail "no ready line after 30 s under $qemu"; }
    put="$(echo "$line" | sed -n 's/.* put=\([0-9.:]*\).*/\1/p')"
    get="$(echo "$line" | sed -n -E 's/.* get=[^ ]*:([0-9]+)( .*)?$/\1/p')"
    roundtrip "http://$put" "http://127.0.0.1:$get"
    kill -TERM "$pid"
    code=0; wait "$pid" || code=$?
    [ "$code" = 0 ] || fail "exit code $code after SIGTERM under $qemu"
    ! grep -qF "$ACCESS_TOKEN" "$work/qemu.err" || fail "the access token reached the log"
    note "$(echo "$desc" | cut -d, -f1-2), under $qemu: $got, 1 MiB byte-exact, exit 0"
}

# --- run cases: a 1 MiB upload read back byte-exact, then stop, exit 0
case_run_host() { # extra `run` options
    ports_free
    start host --network host -e ACCESS_TOKEN "${port_env[@]}" "$@"
    host_urls
    roundtrip "$put_url" "$get_url"
    stop host
    note "1 MiB byte-exact, stop: exit 0 in $stop_ms ms"
}
# Podman mounts a tmpfs on /tmp for --read-only (with the image's /tmp mode);
# docker does not, so there livelog must refuse to start, naming /tmp.
case_read_only() {
    if [ "$engine" = podman ]; then
        case_run_host --read-only
        return
    fi
    ports_free
    local name="$prefix-ro" out
    show "$engine" run -d --name "$name" "${run_flags[@]}" --network host -e ACCESS_TOKEN "${port_env[@]}" --read-only "$image" > /dev/null
    "$engine" wait "$name" > /dev/null
    out="$("$engine" logs "$name" 2>&1)"
    if [ "$("$engine" inspect -f '{{.State.ExitCode}}' "$name")" != 1 ] || [[ $out != *"LIVELOG_TEMP_DIR /tmp"* ]]; then
        fail "want exit 1 naming LIVELOG_TEMP_DIR /tmp (docker mounts no tmpfs for --read-only), got: $out"
    fi
    note "docker: refuses to start, as docs/install.md says: $(echo "$out" | tail -n 1)"
}
case_bridge() {
    ports_free
    start bridge -e ACCESS_TOKEN -e LIVELOG_PUT_HOST=0.0.0.0 \
        -p "127.0.0.1:$put_port:60022" -p "127.0.0.1:$get_port:60023"
    host_urls
    roundtrip "$put_url" "$get_url"
    local out
    out="$("$engine" logs "$prefix-bridge" 2>&1)"
    grep -q 'WARN.*non-loopback' <<< "$out" || fail "no warning about the non-loopback upload bind"
    # Published on loopback only: not reachable via this machine's address.
    local ip detail="" 
    ip="$(hostname -I 2> /dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1 || true)"
    if [ -n "$ip" ]; then
        ! curl -sS --max-time 5 -o /dev/null "http://$ip:$put_port/log" -T /dev/null 2> /dev/null ||
            fail "the upload port answers on $ip:$put_port"
        detail=", not reachable via $ip"
    fi
    stop bridge
    note "ports on 127.0.0.1$detail, 1 MiB byte-exact, warning logged, stop: exit 0 in $stop_ms ms"
}
case_https() {
    ports_free
    local tls="$work/tls"
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$tls/key.pem" -out "$tls/cert.pem" 2> /dev/null
    # The key readable by the image's user only, as docs/install.md says.
    "${as_root[@]}" chown 65532 "$tls/key.pem"
    "${as_root[@]}" chmod 0400 "$tls/key.pem"
    start https --network host -e ACCESS_TOKEN "${port_env[@]}" \
        -v "$tls/cert.pem:/tls/cert.pem:ro" -v "$tls/key.pem:/tls/key.pem:ro" \
        -e SERVER_CRT_FILE=/tls/cert.pem -e SERVER_KEY_FILE=/tls/key.pem
    roundtrip "http://127.0.0.1:$put_port" "https://localhost:$get_port" --cacert "$tls/cert.pem"
    stop https
    note "https://localhost:$get_port, 1 MiB byte-exact, stop: exit 0 in $stop_ms ms"
}

# --- stop cases: how long `stop` takes
quick() {
    [ "$stop_ms" -lt 1000 ] || fail "stop took $stop_ms ms, want < 1000 ms: $1"
    note "exit 0 in $stop_ms ms"
}
graced() {
    if [ "$stop_ms" -lt 4000 ] || [ "$stop_ms" -ge 9500 ]; then
        fail "stop took $stop_ms ms, want the 5 s grace: $1"
    fi
    note "exit 0 after $stop_ms ms (the grace)"
}
# Waits until FILE has at least N bytes (a reader has got them).
wait_bytes() {
    local file="$1" n="$2"
    for _ in $(seq 1 300); do
        [ "$(stat -c %s "$file" 2> /dev/null || echo 0)" -ge "$n" ] && return 0
        sleep 0.1
    done
    fail "the reader did not get $n bytes within 30 s"
}
# Waits until a reader's curl is connected and has the response head.
wait_header() {
    for _ in $(seq 1 300); do
        grep -q '^HTTP/' "$1" 2> /dev/null && return 0
        sleep 0.1
    done
    fail "the reader got no response head within 30 s"
}
start_stop_case() { ports_free; start stop --network host -e ACCESS_TOKEN "${port_env[@]}"; host_urls; }
case_stop_idle() {
    start_stop_case
    stop stop
    quick "nothing uploaded, no reader"
}
case_stop_reader_waiting() {
    start_stop_case
    curl -sS -N -D "$work/wait.head" -o "$work/wait.body" "$get_url/log/$ACCESS_TOKEN" 2> /dev/null &
    local reader=$!
    wait_header "$work/wait.head"
    stop stop
    wait "$reader" || true
    quick "no upload, one reader waiting (it has all 0 bytes)"
}
case_stop_after_upload() {
    start_stop_case
    roundtrip "$put_url" "$get_url"
    stop stop
    quick "upload finished, its reader has every byte"
}
case_stop_broken_upload() {
    start_stop_case
    mkfifo "$work/broken.fifo"
    curl -sS -T - -o /dev/null "$put_url/log" < "$work/broken.fifo" 2> /dev/null &
    local uploader=$!
    exec 7> "$work/broken.fifo"
    printf 'a line before the upload breaks\n' >&7
    curl -sS -N -o "$work/broken.body" "$get_url/log/$ACCESS_TOKEN" 2> /dev/null &
    local reader=$!
    wait_bytes "$work/broken.body" 32
    kill "$uploader"; exec 7>&-; wait "$uploader" || true
    # The reader ends (incomplete) once livelog sees the upload broke.
    for _ in $(seq 1 300); do kill -0 "$reader" 2> /dev/null || break; sleep 0.1; done
    ! kill -0 "$reader" 2> /dev/null || fail "the reader did not end after the upload broke"
    stop stop
    quick "upload broke, its reader has every stored byte"
}
case_stop_upload_running() {
    start_stop_case
    mkfifo "$work/live.fifo"
    curl -sS -T - -o /dev/null "$put_url/log" < "$work/live.fifo" 2> /dev/null &
    local uploader=$!
    exec 7> "$work/live.fifo"
    printf 'a line of a live log\n' >&7
    curl -sS -N -o "$work/live.body" "$get_url/log/$ACCESS_TOKEN" 2> /dev/null &
    local reader=$!
    wait_bytes "$work/live.body" 21
    stop stop
    exec 7>&-; wait "$uploader" || true; wait "$reader" || true
    graced "an upload in progress"
}
case_stop_reader_draining() {
    start_stop_case
    # 64 MiB read at 1 MiB/s: far more than socket buffers hold, so the
    # reader is still draining stored bytes when stop comes.
    head -c 67108864 /dev/urandom > "$work/big.bin"
    curl -fsS -T "$work/big.bin" -o /dev/null "$put_url/log" || fail "upload of 64 MiB failed"
    rm -f "$work/big.bin"
    curl -sS --limit-rate 1M -o "$work/drain.body" "$get_url/log/$ACCESS_TOKEN" 2> /dev/null &
    local reader=$!
    wait_bytes "$work/drain.body" 1
    stop stop
    wait "$reader" || true
    graced "a reader still draining stored bytes"
}

run_case "image $host_arch: arch, size, user, /tmp, label" case_image "$image" "$host_arch"
run_case "image $other_arch: arch, size, user, /tmp, label" case_image "$other_image" "$other_arch"
run_case "--version = image version label" case_version
run_case "$other_arch /livelog under $qemu" case_other_arch_serves
run_case "run: host network (default)" case_run_host
run_case "run: --read-only" case_read_only
run_case "run: --read-only --tmpfs /tmp" case_run_host --read-only --tmpfs /tmp
run_case "run: --user 1000:0" case_run_host --user 1000:0
run_case "run: --user 1000:1000" case_run_host --user 1000:1000
run_case "run: bridge, PUT_HOST=0.0.0.0, -p 127.0.0.1" case_bridge
run_case "run: HTTPS, cert and key mounted :ro" case_https
run_case "stop quick: idle" case_stop_idle
run_case "stop quick: no upload, reader waiting" case_stop_reader_waiting
run_case "stop quick: upload done, reader done" case_stop_after_upload
run_case "stop quick: upload broke" case_stop_broken_upload
run_case "stop grace: upload in progress" case_stop_upload_running
run_case "stop grace: reader draining" case_stop_reader_draining

print_table
