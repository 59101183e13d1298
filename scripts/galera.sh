#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on this machine, to try the service against (and, later,
# to test it): bash scripts/galera.sh up | down | status | kill N | start N | proxy
#
# Nodes answer SQL on 127.0.0.1:3311, 3312 and 3313 (root, no password, as the private test
# servers), keep their data under .galera/ (ignored by git) and run as the mysql user. Node 1
# bootstraps the cluster; nodes 2 and 3 join it by rsync SST. `kill N` ends a node with SIGKILL;
# `start N` recovers its position with --wsrep-recover first, so that it rejoins by IST.
# `proxy` starts HAProxy (ops/haproxy/galera.cfg) on 127.0.0.1:3310, one port below node 1:
# the single-writer entry point, which writes through node 1 while it is Synced, else through
# the next Synced node; `down` stops it too.
set -euo pipefail
cd "$(dirname "$0")/.."

# GALERA_DIR, GALERA_BASE_PORT and GALERA_GCOMM_BASE let a test run a cluster of its own.
ROOT=${GALERA_DIR:-$PWD/.galera}
BASE_PORT=${GALERA_BASE_PORT:-3311}
GCOMM_BASE=${GALERA_GCOMM_BASE:-24557}
PROVIDER=/usr/lib/galera/libgalera_smm.so
NODES=(1 2 3)

log() { printf 'galera: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

dir() { echo "$ROOT/node$1"; }
sql_port() { echo $((BASE_PORT + $1 - 1)); }
# Galera's own ports, ten apart per node: group communication, IST, SST.
gcomm_port() { echo $((GCOMM_BASE + $1 * 10)); }
ist_port() { echo $((GCOMM_BASE + 1 + $1 * 10)); }
sst_port() { echo $((GCOMM_BASE + 2 + $1 * 10)); }

ensure_packages() {
  local missing=()
  [ -f "$PROVIDER" ] || missing+=(galera-4)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

write_config() {
  local n=$1 d
  d=$(dir "$n")
  local members
  members=$(for m in "${NODES[@]}"; do printf '127.0.0.1:%s,' "$(gcomm_port "$m")"; done)
  cat >"$d/my.cnf" <<EOF
[mariadbd]
user=mysql
datadir=$d/data
port=$(sql_port "$n")
bind-address=127.0.0.1
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
# What Galera needs: row-based replication and interleaved auto-increment locks.
binlog_format=ROW
innodb_autoinc_lock_mode=2
default_storage_engine=InnoDB
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=flash_sale_$(basename "$ROOT" | tr -c "a-z0-9\n" _)
wsrep_cluster_address=gcomm://${members%,}
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1
wsrep_provider_options="base_port=$(gcomm_port "$n");gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n")"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$n")
EOF
}

ready() {
  local n=$1 state
  state=$(mariadb -h127.0.0.1 -P"$(sql_port "$n")" -uroot -N -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | awk '{print $2}')
  [ "$state" = "ON" ]
}

wait_ready() {
  local n=$1 waited=0
  for _ in $(seq 1 120); do
    waited=$((waited + 1))
    if ready "$n"; then return 0; fi
    if [ "$waited" -ge 10 ] && ! running "$n"; then
      log "node $n stopped while starting; see $(dir "$n")/error.log"
      return 1
    fi
    sleep 0.5
  done
  log "node $n not ready after 60 s; see $(dir "$n")/error.log"
  return 1
}

pid_of() { pgrep -f -- "--defaults-file=$(dir "$1")/my.cnf" | head -1; }
running() { [ -n "$(pid_of "$1")" ]; }

launch() {
  local n=$1
  shift
  as_root sh -c "nohup mariadbd --defaults-file='$(dir "$n")/my.cnf' $* >>'$(dir "$n")/stdout.log' 2>&1 &"
}

start_node() {
  local n=$1 d position
  d=$(dir "$n")
  if running "$n"; then log "node $n already runs"; return 0; fi
  # The position a node's data holds, so that it asks the cluster for the missing
  # write-sets only (IST) rather than a whole copy (SST).
  rm -f "$d/mysqld.pid"
  position=$(as_root mariadbd --defaults-file="$d/my.cnf" --wsrep-recover --log-error="$d/recover.log" \
    --pid-file="$d/recover.pid" >/dev/null 2>&1;
    grep -o 'Recovered position: .*' "$d/recover.log" | tail -1 | sed 's/Recovered position: //')
  log "starting node $n on port $(sql_port "$n")${position:+ at $position}"
  launch "$n" ${position:+--wsrep-start-position="$position"}
  wait_ready "$n"
}

# The node that left the cluster last (Galera marks it safe_to_bootstrap); after a crash of
# every node none is marked, and node 1 is forced, as Galera's documentation describes.
bootstrap_node() {
  local n
  for n in "${NODES[@]}"; do
    if grep -q '^safe_to_bootstrap: 1' "$(dir "$n")/data/grastate.dat" 2>/dev/null; then
      echo "$n"
      return
    fi
  done
  if [ -f "$(dir 1)/data/grastate.dat" ]; then
    log "no node left last (all crashed?): forcing node 1 to bootstrap"
    as_root sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$(dir 1)/data/grastate.dat"
  fi
  echo 1
}

up() {
  ensure_packages
  mkdir -p "$ROOT"
  for n in "${NODES[@]}"; do
    mkdir -p "$(dir "$n")/data"
    write_config "$n"
  done
  as_root chown -R mysql:mysql "$ROOT"
  local first=""
  for n in "${NODES[@]}"; do if running "$n"; then first=$n; fi; done
  if [ -z "$first" ]; then
    first=$(bootstrap_node)
    if [ ! -d "$(dir "$first")/data/mysql" ]; then
      log "initialising node $first"
      as_root mariadb-install-db --no-defaults --user=mysql --datadir="$(dir "$first")/data" \
        --auth-root-authentication-method=normal --skip-test-db >/dev/null
    fi
    log "bootstrapping the cluster on node $first (port $(sql_port "$first"))"
    rm -f "$(dir "$first")/mysqld.pid"
    launch "$first" --wsrep-new-cluster
    wait_ready "$first"
  fi
  for n in "${NODES[@]}"; do
    if running "$n"; then continue; fi
    log "starting node $n on port $(sql_port "$n") (SST the first time, IST after)"
    rm -f "$(dir "$n")/mysqld.pid"
    launch "$n"
    wait_ready "$n"
  done
  status
}

stop_node() {
  local n=$1 pid
  pid=$(pid_of "$n")
  [ -n "$pid" ] || return 0
  as_root kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
}

proxy_port() { echo $((BASE_PORT - 1)); }

proxy() {
  command -v haproxy >/dev/null 2>&1 || {
    log "installing haproxy"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq haproxy >/dev/null
  }
  proxy_down
  log "starting HAProxy on port $(proxy_port) (one writer: node 1, then nodes 2 and 3)"
  GALERA_PROXY_PORT=$(proxy_port) GALERA_CHECK="$PWD/ops/haproxy/galera-synced.sh" \
    GALERA_NODE1_PORT=$(sql_port 1) GALERA_NODE2_PORT=$(sql_port 2) \
    GALERA_NODE3_PORT=$(sql_port 3) \
    haproxy -q -D -f ops/haproxy/galera.cfg -p "$ROOT/haproxy.pid" ||
    { log "HAProxy did not start (is port $(proxy_port) free?)"; return 1; }
  for _ in $(seq 1 40); do
    if mariadb -h127.0.0.1 -P"$(proxy_port)" -uroot -N -e "SELECT 1" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "HAProxy on port $(proxy_port) reaches no node"
  return 1
}

proxy_down() {
  [ -f "$ROOT/haproxy.pid" ] || return 0
  kill "$(cat "$ROOT/haproxy.pid")" 2>/dev/null || true
  rm -f "$ROOT/haproxy.pid"
}

down() {
  proxy_down
  # The last node to stop is the one that may bootstrap the cluster again.
  for n in 3 2 1; do
    if running "$n"; then log "stopping node $n"; stop_node "$n" TERM; fi
  done
}

status() {
  for n in "${NODES[@]}"; do
    if ready "$n"; then
      mariadb -h127.0.0.1 -P"$(sql_port "$n")" -uroot -N -e \
        "SELECT 'node $n (port $(sql_port "$n")):', VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'" |
        awk '{print $1, $2, $3, $4, "cluster size", $5}'
    else
      echo "node $n (port $(sql_port "$n")): not ready"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  kill) stop_node "${2:?node number}" KILL ;;
  start) start_node "${2:?node number}" ;;
  proxy) proxy ;;
  *)
    echo "usage: bash scripts/galera.sh up | down | status | kill N | start N | proxy" >&2
    exit 2
    ;;
esac
