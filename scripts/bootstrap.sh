#!/usr/bin/env bash
# Makes this machine able to run flash-sale: Bun, a MySQL-compatible server answering at
# DATABASE_URL, and the locked dependencies. Safe to run again; does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=1.4.5
DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/flash_sale}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf 'bootstrap: %s\n' "$*" >&2; }

apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_bun() {
  if command -v bun >/dev/null 2>&1; then return; fi
  command -v npm >/dev/null 2>&1 || { log "installing Node.js and npm"; apt_install nodejs npm; }
  log "installing Bun $BUN_VERSION"
  as_root npm install -g --silent "bun@$BUN_VERSION"
}

# The application says the same of such a URL, but its check runs after this script's parsing.
case "$DATABASE_URL" in
  mysql://*) ;;
  *) log "DATABASE_URL: must be a mysql:// URL, e.g. mysql://root@127.0.0.1:3306/flash_sale"; exit 1 ;;
esac

# host and port of DATABASE_URL, defaulting the port to 3306
db_host=$(printf '%s' "$DATABASE_URL" | sed -E 's#^mysql://([^@/]*@)?([^:/]+).*#\2#')
db_port=$(printf '%s' "$DATABASE_URL" | sed -nE 's#^mysql://([^@/]*@)?[^:/]+:([0-9]+).*#\2#p')
db_port=${db_port:-3306}

answers() { (exec 3<>"/dev/tcp/$db_host/$db_port") 2>/dev/null; }

wait_for_db() {
  for _ in $(seq 1 60); do answers && return 0; sleep 1; done
  log "no database answered at $db_host:$db_port after 60 s"; return 1
}

ensure_mariadb_installed() {
  command -v mariadbd >/dev/null 2>&1 || { log "installing mariadb-server"; apt_install mariadb-server; }
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld
}

# The distribution's server on 3306: Debian's root logs in by socket only, so root may also log
# in over TCP from this machine with no password (a development and CI set-up, never production).
start_system_mariadb() {
  ensure_mariadb_installed
  [ -d /var/lib/mysql/mysql ] || as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  log "starting MariaDB on port 3306"
  as_root sh -c 'nohup mariadbd --user=mysql >/var/log/mariadbd-flash-sale.log 2>&1 &'
  wait_for_db
  as_root mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" ||
    log "could not open a TCP login for root; set DATABASE_URL to a user that has one"
}

# Any other local port, when asked (PRIVATE_MARIADB=1): a private server whose data lives under
# the project (ignored by git). Not unasked: a mistyped port would start an empty second server.
start_private_mariadb() {
  ensure_mariadb_installed
  local dir="$PWD/.mariadb/$db_port"
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    log "initialising a private MariaDB in $dir"
    as_root mariadb-install-db --user=mysql --datadir="$dir/data" --auth-root-authentication-method=normal >/dev/null
  fi
  as_root chown -R mysql:mysql "$dir"
  log "starting a private MariaDB on port $db_port"
  as_root sh -c "nohup mariadbd --user=mysql --datadir='$dir/data' --port=$db_port --bind-address=127.0.0.1 \
    --socket='$dir/mysqld.sock' --pid-file='$dir/mysqld.pid' --skip-log-bin >'$dir/mariadbd.log' 2>&1 &"
  wait_for_db
}

ensure_database() {
  if answers; then return; fi
  case "$db_host" in
    127.0.0.1 | localhost) ;;
    *) log "nothing answers at $db_host:$db_port, and it is not this machine: start it, then retry"; exit 1 ;;
  esac
  if [ "$db_port" = 3306 ]; then
    start_system_mariadb
  elif [ "${PRIVATE_MARIADB:-}" = 1 ]; then
    start_private_mariadb
  else
    log "nothing answers at $db_host:$db_port: start the database there, or set PRIVATE_MARIADB=1 to start a private MariaDB on that port"
    exit 1
  fi
}

# The README's examples use curl, and its test runs them.
ensure_curl() {
  command -v curl >/dev/null 2>&1 && return
  log "installing curl"
  apt_install curl
}

# The operator's page is tested in Debian's Chromium (a test tool's own browser download
# cannot work on machines without internet); only the tests need it.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  log "installing chromium (for the operator's page test)"
  apt_install chromium
}

# promtool (Debian's prometheus package) checks /metrics and the alerting rules in the tests.
ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return
  log "installing prometheus (for promtool)"
  apt_install --no-install-recommends prometheus
}

# Node runs the same app through @hono/node-server in the runtime-neutrality test.
ensure_node() {
  command -v node >/dev/null 2>&1 && return
  log "installing Node.js (for the Node runtime test)"
  apt_install nodejs
}

# The Galera suite starts a three-node cluster of its own (scripts/galera.sh), with HAProxy in
# front of it for the single-writer tests.
ensure_galera() {
  if [ -f /usr/lib/galera/libgalera_smm.so ] && command -v rsync >/dev/null 2>&1 &&
    command -v haproxy >/dev/null 2>&1; then return; fi
  log "installing galera-4, rsync and haproxy (for the Galera suite)"
  apt_install galera-4 rsync haproxy
}

ensure_bun
ensure_database
ensure_curl
if [ "${1:-}" = "--for-tests" ]; then
  ensure_chromium
  ensure_promtool
  ensure_node
  ensure_galera
fi
# --no-env-file: Bun would otherwise print a line naming the .env.local it read.
bun install --frozen-lockfile --silent --no-env-file
