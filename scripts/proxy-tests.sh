#!/usr/bin/env bash
# Readers behind real reverse proxies: runs the `#[ignore]`d tests of
# tests/process/proxies.rs, which start Debian's nginx (nginx-light) and
# Varnish (7.1) in front of the real livelog binary and check live lines,
# exact bytes, the event stream, the viewer and error statuses through each.
#
# Usage: scripts/proxy-tests.sh [extra `cargo test` arguments after --]
# As root on Debian it installs nginx-light and varnish when missing (as
# .ci/run's own installs would); elsewhere it says what is missing. The
# tests start their own nginx and varnishd on free loopback ports, with
# configurations of their own in temp dirs; a service the packages may have
# started system-wide is not used.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/apt.sh
. scripts/lib/apt.sh

# Debian puts both daemons in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin"
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
{ command -v varnishd >/dev/null && command -v varnishadm >/dev/null; } || missing+=(varnish)
command -v curl >/dev/null || missing+=(curl)
command -v socat >/dev/null || missing+=(socat)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi
echo "nginx: $(nginx -v 2>&1)"
echo "varnish: $(varnishd -V 2>&1 | head -n 1)"

# The shared-cache tests hold 1,000 readers open at once: a socket each in
# the test and in varnishd (which inherits this limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

started=$(date +%s)
cargo test --test process -- --ignored proxies:: "$@"
echo "proxy tests: $(( $(date +%s) - started ))s (build included)"
