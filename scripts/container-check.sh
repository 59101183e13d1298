#!/usr/bin/env bash
# Builds the real Dockerfile with podman where no image registry is reachable, then runs the
# image's own files as its user `bun` (a chroot: podman here cannot start containers) against
# the MariaDB at DATABASE_URL: the migration, the API with WORKERS=2, /readyz, the image's health
# check command, an admin call and SIGTERM. Not part of CI (about 10 minutes, 2 GB of disk).
# The base is Debian bookworm from debootstrap with this machine's Bun and CA bundle, passed as
# the Dockerfile's BUN_IMAGE and BUN_RUNTIME_IMAGE. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/flash_sale}
work=$(mktemp -d)
podman=(podman --storage-driver vfs)
base=localhost/flash-sale-check-base:bookworm
image=localhost/flash-sale-check:latest
db_url="${DATABASE_URL%/*}/fs_container_check"
port=$(bun -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop()')
mnt=
cleanup() {
  [ -n "$mnt" ] && { umount "$mnt/proc" 2>/dev/null || true; "${podman[@]}" image unmount "$image" >/dev/null || true; }
  "${podman[@]}" rmi -f "$image" "$base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf 'container-check: %s\n' "$*" >&2; }

for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman debootstrap >/dev/null
done

step "debootstrap a bookworm base with Bun $(bun --version)"
debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log"
install -m 755 "$(readlink -f "$(command -v bun)")" "$work/rootfs/usr/local/bin/bun"
install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
chroot "$work/rootfs" sh -c 'groupadd -g 1000 bun && useradd -u 1000 -g bun -m bun'
tar -C "$work/rootfs" -c . | "${podman[@]}" import \
  --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" - "$base" >/dev/null

step "podman build of the Dockerfile"
"${podman[@]}" build --format docker --isolation chroot --build-arg "BUN_IMAGE=$base" \
  --build-arg "BUN_RUNTIME_IMAGE=$base" -t "$image" . >"$work/build.log" ||
  { tail -20 "$work/build.log"; exit 1; }
config=$("${podman[@]}" image inspect "$image" --format '{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Cmd}}')
[ "$config" = 'bun /app ["bun","src/index.ts"]' ] || { step "unexpected image config: $config"; exit 1; }

mnt=$("${podman[@]}" image mount "$image")
mount -t proc proc "$mnt/proc"
image_env=(/usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/bun NODE_ENV=production
  "DATABASE_URL=$db_url" "PORT=$port")
as_image() { chroot --userspec=1000:1000 "$mnt" "${image_env[@]}" "$@"; }
step "the image's migration, as user bun"
as_image sh -c 'cd /app && bun src/db/migrate-cli.ts'
step "the image's server, WORKERS=2"
# chroot, env and sh each exec the next: $! is the server's own process (the supervisor).
chroot --userspec=1000:1000 "$mnt" "${image_env[@]}" WORKERS=2 ADMIN_TOKEN=container-check-token-0123 \
  LOG_LEVEL=warn sh -c 'cd /app && exec bun src/index.ts' &
server=$!
for _ in $(seq 1 100); do curl -sf "localhost:$port/readyz" >/dev/null && break; sleep 0.2; done
step "the image's health check command"
health=$("${podman[@]}" image inspect "$image" --format '{{range $i, $a := .Config.Healthcheck.Test}}{{if $i}}{{$a}}{{"\n"}}{{end}}{{end}}')
mapfile -t health_cmd <<<"$health"
as_image sh -c 'cd /app && exec "$@"' sh "${health_cmd[@]}"
created=$(curl -s -X POST "localhost:$port/api/admin/products" -H 'content-type: application/json' \
  -H 'authorization: Bearer container-check-token-0123' -d '{"name":"check","price_cents":1,"stock":1}')
[[ "$created" == '{"id":1,'* ]] || { step "admin call answered $created"; exit 1; }
step "SIGTERM"
kill -TERM "$server"
wait "$server" || { step "the server exited $? on SIGTERM"; exit 1; }
mariadb -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS fs_container_check' 2>/dev/null || true
step "passed"
