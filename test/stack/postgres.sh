#!/usr/bin/env bash
# Makes sure the local PostgreSQL runs and that docpipe's role and database exist.
#
#   postgres.sh up       start the cluster if it is not running, then (idempotently) create
#                        the role docpipe and its tests log in as, and a database it owns
#   postgres.sh down     stop the cluster, but only if 'up' was the one that started it
#   postgres.sh status   is it up, and can docpipe's role log in over TCP
#
# Environment (defaults in brackets); the tests read the same variables:
#   DOCPIPE_PG_HOST [127.0.0.1]  DOCPIPE_PG_PORT [5432]
#   DOCPIPE_PG_USER [docpipe]    DOCPIPE_PG_PASSWORD [docpipe]   DOCPIPE_PG_NAME [docpipe]
#   DOCPIPE_PG_ADMIN             the command that runs SQL as a superuser; by default the first
#                                of 'psql -h <host> -U postgres' and, as root, 'runuser -u
#                                postgres -- psql' over the local socket that can log in
#   DOCPIPE_PG_CLUSTER           the cluster to start, as <version>/<name> (default: the one
#                                pg_lsclusters lists on DOCPIPE_PG_PORT)
#   DOCPIPE_PG_START_TIMEOUT [30] seconds to wait for a cluster this script starts
#
# The role has CREATEDB, so that each test can work in a database of its own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST="${DOCPIPE_PG_HOST:-127.0.0.1}"
PG_PORT="${DOCPIPE_PG_PORT:-5432}"
PG_USER="${DOCPIPE_PG_USER:-docpipe}"
PG_PASSWORD="${DOCPIPE_PG_PASSWORD:-docpipe}"
PG_NAME="${DOCPIPE_PG_NAME:-docpipe}"
START_TIMEOUT="${DOCPIPE_PG_START_TIMEOUT:-30}"
STARTED_MARK="$STACK_DIR/postgresql.started-here"

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "DOCPIPE_PG_PORT must be a port number, got '$PG_PORT'"
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "DOCPIPE_PG_START_TIMEOUT must be a whole number of seconds, got '$START_TIMEOUT'"
# Names and password go into SQL text below, so only a safe alphabet is accepted; lower case,
# because PostgreSQL folds unquoted names and the tests' names are lower case too.
[[ "$PG_USER" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "DOCPIPE_PG_USER must be 1-63 lower-case letters, digits or '_', got '$PG_USER'"
[[ "$PG_NAME" =~ ^[a-z_][a-z0-9_]{0,47}$ ]] || die "DOCPIPE_PG_NAME must be 1-48 lower-case letters, digits or '_', got '$PG_NAME'"
[[ "$PG_PASSWORD" =~ ^[A-Za-z0-9_.,:@%+=-]*$ ]] || die "DOCPIPE_PG_PASSWORD may hold letters, digits and _.,:@%+=- only"

# Every psql here: no ~/.psqlrc, stop at the first error, bare values out, no waiting forever.
PSQL_FLAGS=(-X -q -A -t -v ON_ERROR_STOP=1)
export PGCONNECT_TIMEOUT=5

ADMIN=()
# Trust auth on TCP answers the first candidate; Debian's stock pg_hba.conf only lets the
# postgres OS user in (peer auth over the socket), which root reaches through runuser.
pick_admin() {
  ((${#ADMIN[@]} > 0)) && return 0
  if [[ -n "${DOCPIPE_PG_ADMIN:-}" ]]; then
    read -r -a ADMIN <<<"$DOCPIPE_PG_ADMIN"
    return 0
  fi
  local candidate
  for candidate in "psql -h $PG_HOST -p $PG_PORT -U postgres -d postgres" "runuser -u postgres -- psql -p $PG_PORT -d postgres"; do
    read -r -a ADMIN <<<"$candidate"
    # runuser's psql starts in this directory, which the postgres user may not be able to read.
    if (cd / && "${ADMIN[@]}" -w "${PSQL_FLAGS[@]}" -c 'SELECT 1') >/dev/null 2>&1; then return 0; fi
  done
  die "no superuser connection to PostgreSQL at $PG_HOST:$PG_PORT: neither 'psql -U postgres' over TCP nor, as root, 'runuser -u postgres -- psql' over the socket logs in. Set DOCPIPE_PG_ADMIN to a command that runs SQL as a superuser."
}

admin_sql() {
  pick_admin
  (cd / && "${ADMIN[@]}" -w "${PSQL_FLAGS[@]}" -c "$1")
}

server_up() {
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
}

is_local_host() {
  [[ "$PG_HOST" == 127.0.0.1 || "$PG_HOST" == localhost || "$PG_HOST" == ::1 ]]
}

# "<version> <name>" of the cluster to start: DOCPIPE_PG_CLUSTER, else the one on our port.
find_cluster() {
  if [[ -n "${DOCPIPE_PG_CLUSTER:-}" ]]; then
    [[ "$DOCPIPE_PG_CLUSTER" =~ ^[0-9.]+/[A-Za-z0-9_.-]+$ ]] || die "DOCPIPE_PG_CLUSTER must be <version>/<name>, e.g. 15/main, got '$DOCPIPE_PG_CLUSTER'"
    echo "${DOCPIPE_PG_CLUSTER/\// }"
    return 0
  fi
  pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

start_server() {
  is_local_host || die "PostgreSQL at $PG_HOST:$PG_PORT does not accept connections, and it is not on this machine, so it cannot be started here."
  if port_in_use "$PG_PORT"; then
    local pid
    pid="$(listener_pid "$PG_PORT")"
    die "port $PG_PORT is taken by $(describe_pid "$pid"), but it does not answer as PostgreSQL. Stop it, or set DOCPIPE_PG_PORT to the server you want."
  fi
  require pg_ctlcluster "Install PostgreSQL with 'apt-get install -y postgresql', or point DOCPIPE_PG_HOST/PORT at a running server."
  local cluster version name
  cluster="$(find_cluster)"
  [[ -n "$cluster" ]] || die "no PostgreSQL cluster listens on port $PG_PORT (pg_lsclusters). Create one with 'pg_createcluster', or set DOCPIPE_PG_CLUSTER to <version>/<name>."
  read -r version name <<<"$cluster"
  note "PostgreSQL is not running; starting cluster $version/$name"
  # Without --skip-systemctl-redirect it would hand over to systemd, which these machines lack.
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
  mkdir -p "$STACK_DIR"
  echo "$version $name" >"$STARTED_MARK"
  local deadline=$((SECONDS + START_TIMEOUT))
  until server_up; do
    if ((SECONDS >= deadline)); then
      local log="/var/log/postgresql/postgresql-$version-$name.log"
      echo "--- last lines of $log ---" >&2
      tail -n 20 "$log" >&2 2>/dev/null || true
      die "PostgreSQL did not accept connections within ${START_TIMEOUT}s (log tail above)."
    fi
    sleep 0.3
  done
}

database_exists() {
  [[ "$(admin_sql "SELECT 1 FROM pg_database WHERE datname = '$PG_NAME'")" == 1 ]]
}

provision() {
  # CREATE ROLE has no IF NOT EXISTS; the ALTER sets login, rights and password on a role
  # that was already there, so that a changed password takes effect.
  admin_sql "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN CREATE ROLE $PG_USER; END IF;
    END \$\$;
    ALTER ROLE $PG_USER WITH LOGIN CREATEDB PASSWORD '$PG_PASSWORD';" || return 1
  # CREATE DATABASE cannot run inside a DO block; another 'up' may create it between the
  # check and the statement, which is as good.
  if ! database_exists; then
    admin_sql "CREATE DATABASE $PG_NAME OWNER $PG_USER" || database_exists || return 1
  fi
  admin_sql "ALTER DATABASE $PG_NAME OWNER TO $PG_USER"
}

check_login() {
  PGPASSWORD="$PG_PASSWORD" psql -w "${PSQL_FLAGS[@]}" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_NAME" -c 'SHOW server_version'
}

cmd_up() {
  require psql "Install the PostgreSQL client with 'apt-get install -y postgresql-client'."
  require pg_isready "It comes with Debian's postgresql-client package."
  if ! server_up; then
    start_server
  fi
  pick_admin
  provision || die "creating role '$PG_USER' and database '$PG_NAME' with '${ADMIN[*]}' failed. Run as root, or set DOCPIPE_PG_ADMIN to a command that runs SQL as a superuser."
  local version
  version="$(check_login)" || die "role '$PG_USER' cannot log in to $PG_HOST:$PG_PORT/$PG_NAME over TCP; check pg_hba.conf allows it."
  note "PostgreSQL $version ready at $PG_HOST:$PG_PORT, database '$PG_NAME', user '$PG_USER'"
}

cmd_down() {
  if [[ ! -f "$STARTED_MARK" ]]; then
    note "PostgreSQL: left running (it was running before 'up')"
    return 0
  fi
  local version name
  read -r version name <"$STARTED_MARK"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" stop -m fast
  rm -f "$STARTED_MARK"
  note "PostgreSQL: stopped cluster $version/$name"
}

cmd_status() {
  if ! command -v pg_isready >/dev/null 2>&1 || ! server_up; then
    echo "PostgreSQL: not accepting connections at $PG_HOST:$PG_PORT"
    return 1
  fi
  local version
  if version="$(check_login 2>/dev/null)"; then
    echo "PostgreSQL: running $version at $PG_HOST:$PG_PORT, user '$PG_USER' can log in to '$PG_NAME'"
  else
    echo "PostgreSQL: running, but user '$PG_USER' cannot log in to '$PG_NAME' (run 'postgres.sh up')"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: postgres.sh up|down|status" ;;
esac
