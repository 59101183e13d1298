#!/usr/bin/env bash
# One command from a bare Debian machine to a running service: installs what is missing, makes
# this checkout's secrets on first run (kept in .env.local, ignored by git, read back on later
# runs), migrates, seeds a demo product, then serves (bun run start migrates again, harmlessly).
# A variable already set in the environment wins over the file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

port=${PORT:-3000}
# Said before the secrets and the banner: a banner aimed at another program's port misleads.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  printf 'serve.sh: port %s is in use: stop what listens there, or set PORT to a free one\n' "$port" >&2
  exit 1
fi

env_file=.env.local
. scripts/secrets.sh
ensure_app_secrets "$env_file"
while IFS= read -r line; do
  case "$line" in '' | '#'*) continue ;; esac
  name=${line%%=*}
  [ -n "${!name+set}" ] || export "$line"
done <"$env_file"

bun run --silent db:seed

cat <<EOF

Secrets (in $env_file, read back on the next run):
  ADMIN_TOKEN=$ADMIN_TOKEN
  WEBHOOK_SECRET=$WEBHOOK_SECRET
  BUYER_JWT_SECRET=$BUYER_JWT_SECRET
In another shell, to follow the README's examples:
  set -a; . ./$env_file; set +a
  BUYER_TOKEN=\$(bun run --silent token customer-42)
A payment webhook as a provider would sign it, for an order you have made (put its id in BODY;
one sent before its order exists is kept, and pays the order when it is made):
  BODY='{"idempotency_key":"evt_1","order_id":<order id>,"status":"succeeded"}'
  curl -X POST localhost:$port/api/payments/webhook -H 'content-type: application/json' \\
       -H @<(bun run --silent sign-webhook "\$BODY") -d "\$BODY"

EOF
exec bun run start
