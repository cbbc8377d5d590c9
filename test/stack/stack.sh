#!/usr/bin/env bash
# The services docpipe and its tests need, without Docker: MariaDB, PostgreSQL and a KRaft
# Kafka broker.
#
#   stack.sh up [--nodes 1|3]   make sure all three run; prints where each listens
#   stack.sh down               stop the broker (and each database if 'up' started it)
#   stack.sh status
#
# Settings come from the environment; see kafka.sh, mariadb.sh and postgres.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
  up)
    shift
    bash "$here/mariadb.sh" up
    bash "$here/postgres.sh" up
    bash "$here/kafka.sh" up "$@"
    echo
    echo "docpipe stack is up:"
    echo "  Kafka       DOCPIPE_KAFKA_BROKERS=$(bash "$here/kafka.sh" bootstrap "$@")"
    echo "  MariaDB     DOCPIPE_DB_HOST=${DOCPIPE_DB_HOST:-127.0.0.1} DOCPIPE_DB_PORT=${DOCPIPE_DB_PORT:-3306} DOCPIPE_DB_NAME=${DOCPIPE_DB_NAME:-docpipe} DOCPIPE_DB_USER=${DOCPIPE_DB_USER:-docpipe}"
    echo "  PostgreSQL  DOCPIPE_PG_HOST=${DOCPIPE_PG_HOST:-127.0.0.1} DOCPIPE_PG_PORT=${DOCPIPE_PG_PORT:-5432} DOCPIPE_PG_NAME=${DOCPIPE_PG_NAME:-docpipe} DOCPIPE_PG_USER=${DOCPIPE_PG_USER:-docpipe}"
    ;;
  down)
    # All of them, even when one fails: 'down' runs on CI's failure path too.
    rc=0
    bash "$here/kafka.sh" down || rc=$?
    bash "$here/mariadb.sh" down || rc=$?
    bash "$here/postgres.sh" down || rc=$?
    exit "$rc"
    ;;
  status)
    # A database that is down must not hide the lines of the ones after it.
    rc=0
    bash "$here/kafka.sh" status || rc=$?
    bash "$here/mariadb.sh" status || rc=$?
    bash "$here/postgres.sh" status || rc=$?
    exit "$rc"
    ;;
  *)
    echo "usage: stack.sh up [--nodes 1|3] | down | status" >&2
    exit 1
    ;;
esac
