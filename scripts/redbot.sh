#!/usr/bin/env bash
# HTTP semantics linted by REDbot (https://redbot.org, from PyPI): the
# complete log, its outline and the viewer page must draw no warning
# (level WARN or BAD) from REDbot's checks (caching, validators, ranges,
# content negotiation, headers). Runs the debug binary `cargo build` made.
#
# Usage: scripts/redbot.sh
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redbot >/dev/null || python3 -m pip install --quiet --disable-pip-version-check redbot
echo "redbot: $(python3 -m pip show redbot 2>/dev/null | sed -n 's/^Version: //p')"

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
ACCESS_TOKEN=redbotpuppy LIVELOG_PUT_PORT=0 LIVELOG_GET_PORT=0 \
    LIVELOG_READY_FILE="$dir/ready" target/debug/livelog 2> "$dir/livelog.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/ready" ] && break; sleep 0.1; done
put=$(sed 's/.*"put_port":\([0-9]*\).*/\1/' "$dir/ready")
get=$(sed 's/.*"get_port":\([0-9]*\).*/\1/' "$dir/ready")
# A CI log of 400 lines with a section and an error line, complete (a
# few bytes would make REDbot rightly say gzip does not pay and a range
# is the whole).
{
    echo '::group::Build'
    for i in $(seq 1 400); do echo "   Compiling crate-$i v0.1.$i (/build/crates/crate-$i)"; done
    echo '::endgroup::'
    echo 'error: could not compile `crate-400`'
} | curl -sS -T - "http://127.0.0.1:$put/log" > /dev/null

failed=0
for path in /log/redbotpuppy /log/redbotpuppy/outline /view/redbotpuppy; do
    timeout 120 redbot -o har "http://127.0.0.1:$get$path" > "$dir/har.json"
    python3 - "$path" "$dir/har.json" <<'PY' || failed=1
import json, sys
path, har = sys.argv[1], json.load(open(sys.argv[2]))
notes = [m for e in har["log"]["entries"] for m in e.get("_red_messages", [])]
bad = [m for m in notes if m.get("level") in ("warning", "WARN", "bad", "BAD")]
print(f"{path}: {len(notes)} notes, {len(bad)} warnings")
for m in bad:
    print("  ", m.get("level"), m.get("summary"))
sys.exit(1 if bad or not notes else 0)
PY
done
exit "$failed"
