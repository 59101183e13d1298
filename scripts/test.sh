#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite against a real MariaDB/MySQL.
# Each test file creates and drops its own database on the server at DATABASE_URL.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --for-tests || exit 1
out=$(mktemp)
bun test --timeout 60000 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass$' "$out" | tail -1 | tr -dc 0-9)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$out" | tail -1 | tr -dc 0-9)
rm -f "$out"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
