#!/usr/bin/env bash
# One command from a bare Debian machine to a running service: installs what is missing,
# migrates, seeds a demo product, then serves (bun run start migrates again, harmlessly).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bun run db:seed
exec bun run start
