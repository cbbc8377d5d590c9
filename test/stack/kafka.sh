#!/usr/bin/env bash
# Runs a real Apache Kafka broker (KRaft, no ZooKeeper) on this machine without Docker.
#
#   kafka.sh up [--nodes 1|3]     start (no-op when already running); waits until a client
#                                 can fetch metadata from every node
#   kafka.sh down [--nodes 1|3]   stop cleanly (both modes when --nodes is not given)
#   kafka.sh status               what runs where
#   kafka.sh stop-node N [--kill] stop one node of the three-node mode (SIGKILL with --kill)
#   kafka.sh start-node N         start it again and wait until it serves metadata
#   kafka.sh fetch                only resolve the broker's jars from Maven Central
#   kafka.sh bootstrap [--nodes]  print the bootstrap servers
#
# Environment (defaults in brackets):
#   DOCPIPE_KAFKA_PORT [9092]           client port of the one-node broker (controller: +1)
#   DOCPIPE_KAFKA_CLUSTER_PORT [29092]  client port of node 1 of three (2: +1, 3: +2;
#                                       controllers at +100)
#   DOCPIPE_KAFKA_HEAP [512m]           heap of each broker JVM
#   DOCPIPE_KAFKA_READY_TIMEOUT [90]    seconds to wait for a node to serve metadata
#   DOCPIPE_KAFKA_STOP_TIMEOUT [60]     seconds to wait for a clean stop before SIGKILL
#   DOCPIPE_CACHE_DIR [~/.cache/docpipe] where the broker's jars are kept between runs
#   DOCPIPE_STACK_DIR [<repo>/.stack]   broker data, logs and pid files
#   DOCPIPE_KAFKA_SERVER_PROPS          extra lines for server.properties (they win over ours),
#                                       e.g. a SASL listener
#   DOCPIPE_KAFKA_FORMAT_ARGS           extra arguments for formatting a node's storage, one per
#                                       line, e.g. --add-scram and SCRAM-SHA-256=[name=u,password=p]
#   DOCPIPE_MAVEN_ARGS                  extra arguments for mvn (a mirror, an offline repo)
#   DOCPIPE_MVN [mvn]                   the Maven command
#   JAVA_HOME                           the JDK to run the broker with (else java on PATH)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$STACK_SCRIPTS/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
CACHE_DIR="${DOCPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/docpipe}"
LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$STACK_DIR/kafka"
SINGLE_PORT="${DOCPIPE_KAFKA_PORT:-9092}"
CLUSTER_PORT="${DOCPIPE_KAFKA_CLUSTER_PORT:-29092}"
HEAP="${DOCPIPE_KAFKA_HEAP:-512m}"
READY_TIMEOUT="${DOCPIPE_KAFKA_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${DOCPIPE_KAFKA_STOP_TIMEOUT:-60}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
MVN="${DOCPIPE_MVN:-mvn}"

for v in DOCPIPE_KAFKA_PORT DOCPIPE_KAFKA_CLUSTER_PORT DOCPIPE_KAFKA_READY_TIMEOUT DOCPIPE_KAFKA_STOP_TIMEOUT; do
  [[ "${!v:-0}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ "$HEAP" =~ ^[0-9]+[kmgKMG]?$ ]] || die "DOCPIPE_KAFKA_HEAP must be a JVM size such as 512m, got '$HEAP'"

# --- layout of the two modes --------------------------------------------------------------

# node_dir MODE N: where node N of MODE ("single" or "cluster") keeps its state.
node_dir() {
  if [[ "$1" == single ]]; then echo "$KAFKA_DIR/single"; else echo "$KAFKA_DIR/cluster/node-$2"; fi
}

client_port() {
  if [[ "$1" == single ]]; then echo "$SINGLE_PORT"; else echo $((CLUSTER_PORT + $2 - 1)); fi
}

controller_port() {
  if [[ "$1" == single ]]; then
    echo "${DOCPIPE_KAFKA_CONTROLLER_PORT:-$((SINGLE_PORT + 1))}"
  else
    echo $((CLUSTER_PORT + 100 + $2 - 1))
  fi
}

node_ids() {
  if [[ "$1" == single ]]; then echo 1; else echo 1 2 3; fi
}

bootstrap() {
  local mode="$1" out="" n
  for n in $(node_ids "$mode"); do out+="${out:+,}127.0.0.1:$(client_port "$mode" "$n")"; done
  echo "$out"
}

mode_of() {
  case "$1" in
    1) echo single ;;
    3) echo cluster ;;
    *) die "--nodes takes 1 or 3, got '$1'" ;;
  esac
}

# --- prerequisites ------------------------------------------------------------------------

require_java() {
  require "$JAVA" "Install a Java 17+ runtime, e.g. 'apt-get install -y openjdk-17-jre-headless', or set JAVA_HOME to one."
  local major
  major="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')"
  [[ -n "$major" && "$major" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer; '$JAVA' is version '${major:-unknown}'."
}

require_client() {
  require node "Install Node.js 22 or 24 (or 20.19+)."
  [[ -d "$REPO_ROOT/node_modules/@confluentinc/kafka-javascript" ]] ||
    die "the Kafka client is not installed; run 'CKJS_LINKING=dynamic npm ci' in $REPO_ROOT first."
}

# Resolve the broker and its runtime dependencies into the cache, once per Kafka version.
fetch_jars() {
  [[ -f "$LIBS/.complete" ]] && return 0
  require "$MVN" "Install Apache Maven, e.g. 'apt-get install -y maven'; it fetches the broker from Maven Central."
  require_java
  note "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $LIBS"
  local log tmp
  mkdir -p "$CACHE_DIR"
  log="$CACHE_DIR/mvn-kafka-$KAFKA_VERSION.log"
  tmp="$(mktemp -d "$CACHE_DIR/libs.XXXXXX")"
  # shellcheck disable=SC2086 # DOCPIPE_MAVEN_ARGS is a list of arguments on purpose
  if ! "$MVN" -B -f "$POM" ${DOCPIPE_MAVEN_ARGS:-} dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf "$tmp"
    if grep -qiE 'could not transfer|unknown host|connection refused|connect timed out|network is unreachable|could not resolve|failed to read artifact descriptor' "$log"; then
      grep -iE 'could not transfer|unknown host|connection refused|timed out|unreachable|could not resolve' "$log" | head -n3 >&2 || true
      die "Maven Central is unreachable, so the Kafka broker jars cannot be fetched (full log: $log). Check the network or point DOCPIPE_MAVEN_ARGS at a reachable mirror."
    fi
    tail -n 20 "$log" >&2
    die "mvn could not resolve Apache Kafka $KAFKA_VERSION (full log: $log)."
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "mvn finished but no kafka_2.13-$KAFKA_VERSION.jar in $tmp (log: $log)."
  rm -rf "$LIBS"
  mkdir -p "$(dirname "$LIBS")"
  mv "$tmp" "$LIBS"
  touch "$LIBS/.complete"
}

# --- configuration ------------------------------------------------------------------------

write_config() {
  local mode="$1" n="$2" dir voters="" i rf isr
  dir="$(node_dir "$mode" "$n")"
  for i in $(node_ids "$mode"); do voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$mode" "$i")"; done
  if [[ "$mode" == single ]]; then rf=1 isr=1; else rf=3 isr=2; fi
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# Written by test/stack/kafka.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$mode" "$n"),CONTROLLER://127.0.0.1:$(controller_port "$mode" "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$mode" "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# Tests join fresh groups all the time; the default 3 s delay would only slow each one down.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
EOF
  if [[ -n "${DOCPIPE_KAFKA_SERVER_PROPS:-}" ]]; then
    printf '# From DOCPIPE_KAFKA_SERVER_PROPS:\n%s\n' "$DOCPIPE_KAFKA_SERVER_PROPS" >>"$dir/server.properties"
  fi
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

cluster_id() {
  local mode="$1" file="$KAFKA_DIR/$1.cluster-id"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$KAFKA_DIR"
    # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding; one that starts
    # with '-' would be read by the storage tool's argument parser as an option.
    local id="-"
    while [[ "$id" == -* ]]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; done
    printf '%s' "$id" >"$file"
  fi
  cat "$file"
}

# Format the node's storage unless it already belongs to this cluster. Storage left by an
# earlier cluster (its id file was removed, or the mode changed) would refuse to start, so it
# is wiped: it only ever holds test data.
format_storage() {
  local mode="$1" n="$2" dir id have
  dir="$(node_dir "$mode" "$n")"
  id="$(cluster_id "$mode")"
  have="$(sed -n 's/^cluster.id=//p' "$dir/data/meta.properties" 2>/dev/null || true)"
  [[ "$have" == "$id" ]] && return 0
  if [[ -n "$have" ]]; then
    note "node $n: data dir belongs to cluster $have, not $id; wiping it"
  fi
  rm -rf "$dir/data"
  mkdir -p "$dir/data"
  local extra=()
  # SCRAM credentials of a KRaft cluster are written into its storage when it is formatted.
  [[ -n "${DOCPIPE_KAFKA_FORMAT_ARGS:-}" ]] && mapfile -t extra <<<"$DOCPIPE_KAFKA_FORMAT_ARGS"
  "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool format \
    -t "$id" -c "$dir/server.properties" "${extra[@]}" >"$dir/logs/format.log" 2>&1 ||
    { cat "$dir/logs/format.log" >&2; die "formatting KRaft storage of node $n failed"; }
}

# --- processes ----------------------------------------------------------------------------

# Pid of node N if it runs; cleans up a pid file left by a process that is gone.
running_pid() {
  local dir pid
  dir="$(node_dir "$1" "$2")"
  pid="$(cat "$dir/pid" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && alive "$pid" && grep -qF "$dir/server.properties" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  [[ -n "$pid" ]] && rm -f "$dir/pid"
  # The pid file can be gone while the broker still runs (a wiped .stack, a crash of this
  # script between start and write): find it by its listener and adopt it.
  pid="$(listener_pid "$(client_port "$1" "$2")")"
  if [[ -n "$pid" ]] && grep -qF "$dir/server.properties" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid" >"$dir/pid"
    echo "$pid"
  fi
}

check_ports_free() {
  local mode="$1" n="$2" port pid
  for port in $(client_port "$mode" "$n") $(controller_port "$mode" "$n"); do
    if port_in_use "$port"; then
      pid="$(listener_pid "$port")"
      die "port $port (node $n) is already taken by $(describe_pid "$pid"). Stop it, or choose other ports with DOCPIPE_KAFKA_PORT / DOCPIPE_KAFKA_CLUSTER_PORT."
    fi
  done
}

launch_node() {
  local mode="$1" n="$2" dir pid
  dir="$(node_dir "$mode" "$n")"
  check_ports_free "$mode" "$n"
  write_config "$mode" "$n"
  format_storage "$mode" "$n"
  # setsid: the broker must outlive this script and not receive the terminal's Ctrl-C.
  setsid nohup "$JAVA" "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  note "node $n: started pid $pid, client port $(client_port "$mode" "$n")"
}

log_tail() {
  local dir
  dir="$(node_dir "$1" "$2")"
  echo "--- last lines of $dir/logs/server.log ---" >&2
  tail -n 30 "$dir/logs/server.log" >&2 2>/dev/null || true
  echo "--- last lines of $dir/logs/stdout.log ---" >&2
  tail -n 15 "$dir/logs/stdout.log" >&2 2>/dev/null || true
}

# Wait until a Kafka client fetches metadata listing every node in NODES from BOOTSTRAP.
wait_ready() {
  local mode="$1" bootstrap_list="$2" expect="$3"; shift 3
  local deadline=$((SECONDS + READY_TIMEOUT)) n pid
  while :; do
    for n in "$@"; do
      pid="$(cat "$(node_dir "$mode" "$n")/pid" 2>/dev/null || true)"
      if ! alive "$pid"; then
        log_tail "$mode" "$n"
        die "Kafka node $n exited during start-up (log tail above)."
      fi
    done
    if node "$STACK_SCRIPTS/kafka-ready.mjs" "$bootstrap_list" "$expect" 3000 2>/dev/null; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      for n in "$@"; do log_tail "$mode" "$n"; done
      # A broker that never became ready is not left behind half-started.
      for n in "$@"; do
        pid="$(cat "$(node_dir "$mode" "$n")/pid" 2>/dev/null || true)"
        [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
        rm -f "$(node_dir "$mode" "$n")/pid"
      done
      die "Kafka at $bootstrap_list did not serve metadata for $expect broker(s) within ${READY_TIMEOUT}s (log tail above). Raise DOCPIPE_KAFKA_READY_TIMEOUT on a slow machine."
    fi
    sleep 0.5
  done
}

stop_pids() {
  local deadline=$((SECONDS + STOP_TIMEOUT)) pid left
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  while :; do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    ((${#left[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      note "still running after ${STOP_TIMEOUT}s, killing: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.2
  done
}

# --- commands -----------------------------------------------------------------------------

cmd_up() {
  local mode="$1" n started=() pid
  require_java
  require_client
  fetch_jars
  for n in $(node_ids "$mode"); do
    pid="$(running_pid "$mode" "$n")"
    if [[ -n "$pid" ]]; then
      note "node $n: already running (pid $pid)"
    else
      launch_node "$mode" "$n"
      started+=("$n")
    fi
  done
  wait_ready "$mode" "$(bootstrap "$mode")" "$(node_ids "$mode" | wc -w)" $(node_ids "$mode")
  note "Kafka $KAFKA_VERSION ready at $(bootstrap "$mode") ($(node_ids "$mode" | wc -w) node(s)); data in $KAFKA_DIR"
}

cmd_down() {
  local mode n pids=() pid
  for mode in "$@"; do
    for n in $(node_ids "$mode"); do
      pid="$(running_pid "$mode" "$n")"
      [[ -n "$pid" ]] && pids+=("$pid")
    done
  done
  if ((${#pids[@]} == 0)); then
    note "Kafka: nothing running"
    return 0
  fi
  # All nodes at once: stopped one by one, the last ones lose their controller quorum and
  # wait out their shutdown timeout.
  stop_pids "${pids[@]}"
  for mode in "$@"; do
    for n in $(node_ids "$mode"); do rm -f "$(node_dir "$mode" "$n")/pid"; done
  done
  note "Kafka: stopped ${#pids[@]} node(s)"
}

cmd_status() {
  local mode n pid
  for mode in single cluster; do
    for n in $(node_ids "$mode"); do
      pid="$(running_pid "$mode" "$n")"
      [[ -d "$(node_dir "$mode" "$n")" || -n "$pid" ]] || continue
      if [[ -n "$pid" ]]; then
        echo "$mode node $n: running, pid $pid, 127.0.0.1:$(client_port "$mode" "$n")"
      else
        echo "$mode node $n: stopped"
      fi
    done
  done
}

check_node_arg() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "a node number 1, 2 or 3 is needed, got '${1:-}'"
}

cmd_stop_node() {
  local n="$1" signal="$2" pid
  check_node_arg "$n"
  pid="$(running_pid cluster "$n")"
  [[ -n "$pid" ]] || { note "node $n is not running"; return 0; }
  if [[ "$signal" == KILL ]]; then
    kill -KILL "$pid"
    while alive "$pid"; do sleep 0.1; done
  else
    stop_pids "$pid"
  fi
  rm -f "$(node_dir cluster "$n")/pid"
  note "node $n stopped ($signal)"
}

cmd_start_node() {
  local n="$1" pid
  check_node_arg "$n"
  require_java
  require_client
  fetch_jars
  pid="$(running_pid cluster "$n")"
  if [[ -n "$pid" ]]; then
    note "node $n: already running (pid $pid)"
  else
    launch_node cluster "$n"
  fi
  wait_ready cluster "127.0.0.1:$(client_port cluster "$n")" 1 "$n"
  note "node $n ready at 127.0.0.1:$(client_port cluster "$n")"
}

main() {
  local cmd="${1:-}" nodes="" kill_flag=TERM positional=()
  [[ $# -gt 0 ]] && shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --nodes) nodes="${2:-}"; shift 2 || die "--nodes takes 1 or 3" ;;
      --nodes=*) nodes="${1#--nodes=}"; shift ;;
      --kill) kill_flag=KILL; shift ;;
      -*) die "unknown option '$1' for '$cmd'" ;;
      *) positional+=("$1"); shift ;;
    esac
  done
  local mode modes=(single cluster)
  # Resolved here, not inside $(...), so that a bad value stops the script.
  mode_of "${nodes:-${DOCPIPE_KAFKA_NODES:-1}}" >/dev/null
  mode="$(mode_of "${nodes:-${DOCPIPE_KAFKA_NODES:-1}}")"
  [[ -n "$nodes" ]] && modes=("$mode")
  case "$cmd" in
    up) cmd_up "$mode" ;;
    down) cmd_down "${modes[@]}" ;;
    status) cmd_status ;;
    stop-node) cmd_stop_node "${positional[0]:-}" "$kill_flag" ;;
    start-node) cmd_start_node "${positional[0]:-}" ;;
    fetch) fetch_jars; note "Kafka $KAFKA_VERSION jars in $LIBS" ;;
    bootstrap) bootstrap "$mode" ;;
    *) die "usage: kafka.sh up|down|status|stop-node N [--kill]|start-node N|fetch|bootstrap [--nodes 1|3]" ;;
  esac
}

main "$@"
