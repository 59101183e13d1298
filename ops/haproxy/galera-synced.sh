#!/bin/sh
# HAProxy's external check for a Galera node (arguments: proxy address, proxy port, node
# address, node port): passes only when the node is in the primary component and Synced, so
# that a node still joining, a donor or one cut off from the others gets no writes.
# HAProxy clears the environment of its checks: the login comes from the client option files
# ([client] in /etc/mysql/my.cnf: a monitoring account needs no privileges), else it is the
# user HAProxy runs as, with no password, as on the cluster of scripts/galera.sh.
status=$(mariadb --connect-timeout=1 -h "$3" -P "$4" -N -B -e \
  "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_local_state')" \
  2>/dev/null) || exit 1
echo "$status" | grep -q '^wsrep_cluster_status[[:space:]]*Primary$' || exit 1
echo "$status" | grep -q '^wsrep_local_state[[:space:]]*4$'
