#!/usr/bin/env bash
# Makes sure the local MariaDB runs and that docpipe's database and user exist.
#
#   mariadb.sh up       start the server if it is not running, then (idempotently) create
#                       the database and the user docpipe and its tests connect with
#   mariadb.sh down     stop the server, but only if 'up' was the one that started it
#   mariadb.sh status   is it up, and can docpipe's user log in over TCP
#
# Environment (defaults in brackets); docpipe reads the same variables:
#   DOCPIPE_DB_HOST [127.0.0.1]  DOCPIPE_DB_PORT [3306]
#   DOCPIPE_DB_USER [docpipe]    DOCPIPE_DB_PASSWORD [docpipe]   DOCPIPE_DB_NAME [docpipe]
#   DOCPIPE_DB_ADMIN [mariadb]   the command that runs SQL as an administrator (root over
#                                the local socket by default)
#   DOCPIPE_DB_START_TIMEOUT [30] seconds to wait for a server this script starts
#
# The user may create and drop databases named <DOCPIPE_DB_NAME>_*, so that each test can
# work in a database of its own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB_HOST="${DOCPIPE_DB_HOST:-127.0.0.1}"
DB_PORT="${DOCPIPE_DB_PORT:-3306}"
DB_USER="${DOCPIPE_DB_USER:-docpipe}"
DB_PASSWORD="${DOCPIPE_DB_PASSWORD:-docpipe}"
DB_NAME="${DOCPIPE_DB_NAME:-docpipe}"
START_TIMEOUT="${DOCPIPE_DB_START_TIMEOUT:-30}"
read -r -a ADMIN <<<"${DOCPIPE_DB_ADMIN:-mariadb}"
MARIADBD="${DOCPIPE_MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}"
STARTED_MARK="$STACK_DIR/mariadb.started-here"

[[ "$DB_PORT" =~ ^[0-9]+$ ]] || die "DOCPIPE_DB_PORT must be a port number, got '$DB_PORT'"
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "DOCPIPE_DB_START_TIMEOUT must be a whole number of seconds, got '$START_TIMEOUT'"
# Names and password go into SQL text below, so only a safe alphabet is accepted.
[[ "$DB_USER" =~ ^[A-Za-z0-9_]{1,32}$ ]] || die "DOCPIPE_DB_USER must be 1-32 letters, digits or '_', got '$DB_USER'"
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]{1,48}$ ]] || die "DOCPIPE_DB_NAME must be 1-48 letters, digits or '_', got '$DB_NAME'"
[[ "$DB_PASSWORD" =~ ^[A-Za-z0-9_.,:@%+=-]*$ ]] || die "DOCPIPE_DB_PASSWORD may hold letters, digits and _.,:@%+=- only"

admin_sql() {
  "${ADMIN[@]}" --batch --skip-column-names -e "$1"
}

server_up() {
  admin_sql 'SELECT 1' >/dev/null 2>&1
}

start_server() {
  [[ -x "$MARIADBD" ]] || die "MariaDB server not found ($MARIADBD). Install it with 'apt-get install -y mariadb-server', or point DOCPIPE_DB_HOST/PORT at a running MySQL or MariaDB."
  if port_in_use "$DB_PORT"; then
    local pid
    pid="$(listener_pid "$DB_PORT")"
    die "port $DB_PORT is taken by $(describe_pid "$pid"), but '${ADMIN[*]}' cannot reach a MariaDB server. Stop it, or set DOCPIPE_DB_PORT and DOCPIPE_DB_ADMIN for the server you want."
  fi
  require start-stop-daemon "It comes with Debian's dpkg package."
  note "MariaDB is not running; starting $MARIADBD"
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec "$MARIADBD"
  mkdir -p "$STACK_DIR"
  touch "$STARTED_MARK"
  local deadline=$((SECONDS + START_TIMEOUT))
  until server_up; do
    if ((SECONDS >= deadline)); then
      local log
      log="$("${MARIADBD}" --print-defaults 2>/dev/null | tr ' ' '\n' | sed -n 's/^--log[-_]error=//p' | tail -n1)"
      log="${log:-/var/log/mysql/error.log}"
      echo "--- last lines of $log ---" >&2
      tail -n 20 "$log" >&2 2>/dev/null || true
      die "MariaDB did not accept connections within ${START_TIMEOUT}s (log tail above)."
    fi
    sleep 0.3
  done
}

provision() {
  local host
  admin_sql "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  # '%' for TCP (the server resolves no names, so 127.0.0.1 does not become 'localhost'),
  # 'localhost' for the socket.
  for host in '%' 'localhost'; do
    admin_sql "CREATE USER IF NOT EXISTS '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';
      ALTER USER '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';
      GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'$host';
      GRANT ALL PRIVILEGES ON \`${DB_NAME//_/\\_}\\_%\`.* TO '$DB_USER'@'$host';"
  done
}

check_login() {
  mariadb --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" "-p$DB_PASSWORD" \
    --batch --skip-column-names -e 'SELECT VERSION()' "$DB_NAME"
}

cmd_up() {
  require mariadb "Install the MariaDB client with 'apt-get install -y mariadb-client'."
  if ! server_up; then
    start_server
  fi
  provision || die "creating database '$DB_NAME' and user '$DB_USER' with '${ADMIN[*]}' failed. Run as root, or set DOCPIPE_DB_ADMIN to a command that runs SQL as an administrator."
  local version
  version="$(check_login)" || die "user '$DB_USER' cannot log in to $DB_HOST:$DB_PORT/$DB_NAME over TCP."
  note "MariaDB $version ready at $DB_HOST:$DB_PORT, database '$DB_NAME', user '$DB_USER'"
}

cmd_down() {
  if [[ ! -f "$STARTED_MARK" ]]; then
    note "MariaDB: left running (it was running before 'up')"
    return 0
  fi
  start-stop-daemon --stop --oknodo --retry 30 --exec "$MARIADBD" >/dev/null
  rm -f "$STARTED_MARK"
  note "MariaDB: stopped"
}

cmd_status() {
  if ! server_up; then
    echo "MariaDB: not reachable with '${ADMIN[*]}'"
    return 1
  fi
  local version
  if version="$(check_login 2>/dev/null)"; then
    echo "MariaDB: running $version at $DB_HOST:$DB_PORT, user '$DB_USER' can log in to '$DB_NAME'"
  else
    echo "MariaDB: running, but user '$DB_USER' cannot log in to '$DB_NAME' (run 'mariadb.sh up')"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: mariadb.sh up|down|status" ;;
esac
