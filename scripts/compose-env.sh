#!/usr/bin/env bash
# Writes compose.env for `docker compose --env-file compose.env up`: the service's secrets and the
# database user's password, made once (a second run keeps them and adds only what is missing).
# Not named .env: Bun would load that file into every `bun` run in the checkout, tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/secrets.sh
ensure_app_secrets compose.env
ensure_secret compose.env MYSQL_PASSWORD "$(random_text)"
ensure_secret compose.env API_PORT 3000
ensure_secret compose.env WORKERS 2
echo "compose.env ready: docker compose --env-file compose.env up -d"
