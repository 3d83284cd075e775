#!/usr/bin/env bash
# Runs the official RealWorld API conformance suite against a running Portico, and prints one
# line per folder and a closing "N passed, M failed" line, counted in requests.
#
#   tools/conformance.sh [BASE_URL] [FOLDER ...]      (or: make conformance)
#
# The suite is the RealWorld project's Bruno collection for API spec v2.0.0, kept in
# tools/realworld/bruno/ (see tools/realworld/README.md for where it comes from). BASE_URL is
# the server's origin without /api (the collection adds it), default http://127.0.0.1:8000.
# With no FOLDER, every folder runs. Exit 0 only when every request passed; 2 when the suite
# cannot run (no npm, nothing answering at BASE_URL).
#
# The Bruno CLI comes from the npm registry, installed once into $BRUNO_HOME (default
# ~/.cache/portico-bruno). CONFORMANCE_OUT=DIR keeps each folder's JSON report and log there.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
collection="$here/realworld/bruno"
base="${1:-http://127.0.0.1:8000}"
shift || true
BRUNO_HOME="${BRUNO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/portico-bruno}"
BRUNO_VERSION="${BRUNO_VERSION:-4.1.0}"
bru="$BRUNO_HOME/node_modules/.bin/bru"

if [ ! -x "$bru" ]; then
    command -v npm >/dev/null || { echo "conformance: npm is needed for the Bruno CLI; install Node.js and npm" >&2; exit 2; }
    mkdir -p "$BRUNO_HOME"
    echo "conformance: installing @usebruno/cli@$BRUNO_VERSION into $BRUNO_HOME" >&2
    (cd "$BRUNO_HOME" && npm install --silent --no-audit --no-fund "@usebruno/cli@$BRUNO_VERSION" >/dev/null) \
        || { echo "conformance: npm could not install @usebruno/cli@$BRUNO_VERSION" >&2; exit 2; }
fi

if ! curl -s -o /dev/null --max-time 5 "$base/api/tags"; then
    echo "conformance: nothing answers at $base; start Portico first (make run)" >&2
    exit 2
fi

folders=("$@")
if [ ${#folders[@]} -eq 0 ]; then
    for d in "$collection"/*/; do
        name="$(basename "$d")"
        [ "$name" = environments ] || folders+=("$name")
    done
fi

out="${CONFORMANCE_OUT:-$(mktemp -d)}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
cd "$collection" || exit 2
for f in "${folders[@]}"; do
    "$bru" run "$f" --env local --env-var "host=$base" --sandbox safe \
        --reporter-json "$out/$f.json" >"$out/$f.log" 2>&1
done

python3 - "$out" "${folders[@]}" <<'PY'
"""Count each folder's requests from Bruno's JSON reports; name every failed one."""
import json
import pathlib
import sys

out, folders = pathlib.Path(sys.argv[1]), sys.argv[2:]
passed = failed = 0
for folder in folders:
    report = out / f"{folder}.json"
    if not report.exists():
        print(f"{folder:24} no report (see {out}/{folder}.log)")
        failed += 1
        continue
    results = [result for run in json.loads(report.read_text()) for result in run["results"]]
    bad = []
    for result in results:
        checks = (
            result.get("assertionResults", [])
            + result.get("testResults", [])
            + result.get("postResponseTestResults", [])
        )
        fails = [check for check in checks if check.get("status") != "pass"]
        if result.get("status") == "error" or result.get("error") or fails:
            why = result.get("error") or "; ".join(
                f"{c.get('lhsExpr') or c.get('description', '')}: {c.get('error', '')}".strip()
                for c in fails[:2]
            )
            status = (result.get("response") or {}).get("status")
            method = result["request"]["method"]
            bad.append(f"    {result['test']['filename']} [{method} -> {status}] {why}"[:300])
    passed += len(results) - len(bad)
    failed += len(bad)
    print(f"{folder:24} {len(results) - len(bad)}/{len(results)}")
    for line in bad:
        print(line)
print(f"conformance: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
PY
