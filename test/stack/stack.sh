#!/usr/bin/env bash
# The services docpipe and its tests need, without Docker: MariaDB and a KRaft Kafka broker.
#
#   stack.sh up [--nodes 1|3]   make sure both run; prints where each listens
#   stack.sh down               stop the broker (and MariaDB if 'up' started it)
#   stack.sh status
#
# Settings come from the environment; see kafka.sh and mariadb.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
  up)
    shift
    bash "$here/mariadb.sh" up
    bash "$here/kafka.sh" up "$@"
    echo
    echo "docpipe stack is up:"
    echo "  Kafka    DOCPIPE_KAFKA_BROKERS=$(bash "$here/kafka.sh" bootstrap "$@")"
    echo "  MariaDB  DOCPIPE_DB_HOST=${DOCPIPE_DB_HOST:-127.0.0.1} DOCPIPE_DB_PORT=${DOCPIPE_DB_PORT:-3306} DOCPIPE_DB_NAME=${DOCPIPE_DB_NAME:-docpipe} DOCPIPE_DB_USER=${DOCPIPE_DB_USER:-docpipe}"
    ;;
  down)
    # Both, even when the first fails: 'down' runs on CI's failure path too.
    rc=0
    bash "$here/kafka.sh" down || rc=$?
    bash "$here/mariadb.sh" down || rc=$?
    exit "$rc"
    ;;
  status)
    bash "$here/kafka.sh" status
    bash "$here/mariadb.sh" status
    ;;
  *)
    echo "usage: stack.sh up [--nodes 1|3] | down | status" >&2
    exit 1
    ;;
esac
