#!/usr/bin/env bash
# TLS audit of livelog's HTTPS reader port with Debian's testssl.sh (3.0.x,
# command `testssl`): builds livelog, starts it with a throwaway certificate
# for localhost (ECDSA P-256, then RSA 2048: the Go livelog's users have
# both, and the suites, ROBOT and DROWN depend on the key), runs testssl
# against https://localhost:PORT/ with JSON output and fails if
#   - any protocol but TLS 1.2 and TLS 1.3 is offered (or neither is),
#   - any cipher category testssl rates weak is offered (NULL, aNULL,
#     EXPORT, LOW, 3DES/IDEA, obsolete CBC),
#   - any finding is MEDIUM, HIGH or CRITICAL, or a check could not run
#     (WARN), unless it is one of the KNOWN findings below, each with its
#     reason: things livelog deliberately does not do, or that belong to
#     the throwaway certificate rather than to livelog.
# It prints a summary per certificate and the time taken.
#
# What testssl runs (-p -s -f -P -S -h -U -e): protocols, cipher categories,
# forward secrecy, server preference, server defaults and certificate, HTTP
# headers, every vulnerability check, and each of its 370 ciphers tried
# (the offered list). Left out: client simulation (-c, the slowest part at
# ~40 s here, and about which clients connect, not about weaknesses), the
# per-protocol cipher listing (-E: -e and -p already cover it) and the
# implementation-bug probes (-g). `--ip 127.0.0.1 --nodns none`: no DNS
# lookups (the CAA record check is about a public name, and there is no
# DNS here); `--warnings off`: no questions (CI has no stdin).
#
# Usage: scripts/testssl.sh
# As root on Debian it installs testssl.sh, openssl and jq when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/apt.sh
. scripts/lib/apt.sh
missing=()
command -v testssl >/dev/null || missing+=(testssl.sh)
command -v openssl >/dev/null || missing+=(openssl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

# Findings that do not fail the audit: "id|severity|reason", the severity
# exactly as testssl gives it (the same id at another severity fails).
KNOWN='cert_chain_of_trust|CRITICAL|the throwaway certificate is self-signed; a deployment brings a certificate its readers trust
cert_revocation|HIGH|the throwaway certificate names no CRL or OCSP URI; revocation is the issuing CA'"'"'s, not livelog'"'"'s
HSTS|LOW|livelog sends no Strict-Transport-Security: the reader port is one port of a CI worker, often named by address, and HSTS would bind the whole host name to HTTPS
DNS_CAArecord|LOW|CAA is a DNS record of a public name, not something a server offers (only reported when DNS lookups are on)
sessionresumption_ticket|WARN|testssl 3.0 probes TLS 1.3 ticket resumption with openssl s_client </dev/null, which races the post-handshake NewSessionTicket (an informational check, not a vulnerability)
cipher_order|HIGH|rustls lets the client choose among its suites (ServerConfig::ignore_client_order = false); every suite offered is AEAD with ECDHE (checked in the same run), so the client can only pick a strong one, as Mozilla'"'"'s intermediate and modern configurations have it'

work=$(mktemp -d)
livelog_pid=""
cleanup() {
    if [ -n "$livelog_pid" ]; then
        kill "$livelog_pid" 2>/dev/null || true
        wait "$livelog_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
echo "-- build livelog"
# The binary the integration tests run: the same features (a plain `cargo
# build` leaves out what the dev-dependencies enable, and rebuilds half the
# dependencies), so after `cargo test` this costs nothing.
bin=$(cargo test --no-run --test process --message-format=json-render-diagnostics \
    | jq -r 'select(.reason == "compiler-artifact" and .target.name == "livelog" and .executable != null) | .executable')
[ -x "$bin" ] || { echo "cargo build gave no livelog binary" >&2; exit 1; }
echo "binary: $bin"
echo "testssl: $(testssl --version 2>/dev/null | grep -o 'testssl *[0-9][0-9.]*' | head -n 1)"
echo "build: $(( $(date +%s) - started ))s"

failures=0

# audit NAME OPENSSL-REQ-KEY-ARGS...: one certificate, one livelog, one
# testssl run, judged.
audit() {
    local name=$1; shift
    local dir="$work/$name"
    mkdir -p "$dir"
    # 90 days: testssl flags certificates that expire within 60 days and
    # ones valid for more than 398.
    openssl req -x509 "$@" -nodes -days 90 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    env -i PATH="$PATH" ACCESS_TOKEN="$(openssl rand -hex 16)" \
        LIVELOG_PUT_PORT=0 LIVELOG_GET_PORT=0 LIVELOG_GET_HOST=127.0.0.1 \
        SERVER_CRT_FILE="$dir/cert.pem" SERVER_KEY_FILE="$dir/key.pem" \
        LIVELOG_READY_FILE="$dir/ready.json" \
        "$bin" 2>"$dir/livelog.log" &
    livelog_pid=$!
    local _
    for _ in $(seq 100); do
        [ -s "$dir/ready.json" ] && break
        if ! kill -0 "$livelog_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ ! -s "$dir/ready.json" ]; then
        echo "livelog did not start:" >&2
        cat "$dir/livelog.log" >&2
        exit 1
    fi
    local port
    port=$(jq -r .get_port "$dir/ready.json")
    echo
    echo "== $name: testssl against https://localhost:$port/"
    local t0 rc=0
    t0=$(date +%s)
    testssl --quiet --color 0 --warnings off --ip 127.0.0.1 --nodns none \
        --openssl-timeout 10 --connect-timeout 10 \
        -p -s -f -P -S -h -U -e \
        --jsonfile "$dir/testssl.json" "https://localhost:$port/" >"$dir/testssl.txt" 2>&1 || rc=$?
    local took=$(( $(date +%s) - t0 ))
    kill "$livelog_pid"
    wait "$livelog_pid" 2>/dev/null || true
    livelog_pid=""
    if ! jq -e 'length > 0' "$dir/testssl.json" >/dev/null 2>&1; then
        echo "FAIL: testssl (exit $rc) wrote no findings; its output:" >&2
        cat "$dir/testssl.txt" >&2
        failures=$((failures + 1))
        return
    fi
    # The verdict, in jq: one line per problem ("FAIL ..."), per known
    # finding ("known ..."), then the summary ("summary ...").
    jq -r --arg known "$KNOWN" --arg took "$took" --arg rc "$rc" '
        . as $all
        | def find($id): $all | map(select(.id == $id)) | first;
          def offered($id): (find($id).finding // "") | test("^offered");
        ($known | split("\n") | map(split("|") | {key: (.[0] + "|" + .[1]), value: .[2]}) | from_entries) as $reasons
        | ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"] as $protocols
        | ["NULL", "aNULL", "EXPORT", "LOW", "3DES_IDEA", "AVERAGE"] as $weak
        | [$protocols[] | select(find(.) == null)] as $unprobed
        | [$protocols[] | select(offered(.))] as $offered
        | [$weak[] | "cipherlist_" + . | select(find(.) == null or offered(.))] as $weak_offered
        | [.[] | select(.id | test("^cipher_x")) | .finding | split(" ") | map(select(. != "")) | .[1]] as $ciphers
        | [.[] | select(.severity | test("^(MEDIUM|HIGH|CRITICAL|WARN|LOW)$"))] as $flagged
        | [$flagged[] | . + {reason: $reasons[.id + "|" + .severity]}] as $flagged
        # cipher_order is known only while every category but the strong
        # one is absent: then the client can choose nothing weak.
        | [$flagged[] | if .id == "cipher_order" and ($weak_offered | length) > 0 then .reason = null else . end] as $flagged
        | (
            [$unprobed[] | "FAIL protocol \(.): testssl did not report it"]
          + [$offered[] | select(. != "TLS1_2" and . != "TLS1_3") | "FAIL protocol \(.) is offered"]
          + (if ($offered | map(select(. == "TLS1_2" or . == "TLS1_3")) | length) == 0 then ["FAIL neither TLS 1.2 nor TLS 1.3 is offered"] else [] end)
          + [$weak_offered[] | "FAIL \(.): \((find(.).finding) // "not reported") (a cipher category testssl rates weak)"]
          + (if ($ciphers | length) == 0 then ["FAIL testssl listed no offered cipher"] else [] end)
          + [$flagged[] | select(.reason == null and .severity != "LOW") | "FAIL \(.severity) \(.id): \(.finding)"]
          + [$flagged[] | select(.reason == null and .severity == "LOW") | "note LOW \(.id): \(.finding) (not a failure: LOW)"]
          + [$flagged[] | select(.reason != null) | "known \(.severity) \(.id): \(.finding) -- \(.reason)"]
          + ["summary protocols offered: \($offered | join(" ") | gsub("_"; "."))"]
          + ["summary ciphers offered: \($ciphers | length): \($ciphers | join(" "))"]
          + ["summary findings by severity: " + ([["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN"][] as $s | "\($s) \([$all[] | select(.severity == $s)] | length)"] | join(", ")) + " (known: \([$flagged[] | select(.reason != null)] | length))"]
          + ["summary testssl took \($took)s (exit \($rc))"]
          )[]
    ' "$dir/testssl.json" | tee "$dir/verdict.txt"
    if grep -q '^FAIL' "$dir/verdict.txt"; then
        failures=$((failures + 1))
        echo "-- $name: FAILED; testssl's output:"
        cat "$dir/testssl.txt"
    fi
    # What this key changes, for the comparison below.
    jq -r '.[] | select(.severity != "INFO" and .severity != "DEBUG") | "\(.id) \(.severity)"' \
        "$dir/testssl.json" | sort >"$work/$name.judged"
    jq -r '.[] | select(.id | test("^cipher_x")) | .id' "$dir/testssl.json" | sort >"$work/$name.ciphers"
}

audit ecdsa-p256 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
audit rsa-2048 -newkey rsa:2048

echo
echo "== ECDSA P-256 against RSA 2048"
if diff_out=$(diff "$work/ecdsa-p256.judged" "$work/rsa-2048.judged"); then
    echo "rated findings: the same"
else
    echo "rated findings differ (< ECDSA, > RSA):"
    echo "$diff_out" | grep '^[<>]'
fi
echo "suites: ECDSA $(paste -sd' ' "$work/ecdsa-p256.ciphers"); RSA $(paste -sd' ' "$work/rsa-2048.ciphers")"
echo
echo "testssl audit: $(( $(date +%s) - started ))s in all (build included)"
if [ "$failures" -gt 0 ]; then
    echo "testssl audit: FAILED for $failures certificate(s)" >&2
    exit 1
fi
echo "testssl audit: passed (ECDSA P-256 and RSA 2048)"
