# Helpers shared by the stack scripts. Sourced, never run.

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPTS/../.." && pwd)"
# Runtime state (broker data, logs, pid files) lives in the checkout but is git-ignored, so
# two checkouts never share a broker by accident.
STACK_DIR="${DOCPIPE_STACK_DIR:-$REPO_ROOT/.stack}"

die() {
  echo "error: $*" >&2
  exit 1
}

note() {
  echo "[$(date +%H:%M:%S)] $*"
}

# require CMD HINT: stop with HINT when CMD is not on PATH.
require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH. $2"
}

# Is PID a live process (not a zombie)?
alive() {
  local pid="$1"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "$state" != "Z" ]]
}

# Pid of whatever listens on TCP PORT on any address, or nothing.
listener_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1
}

# Is something listening on TCP PORT?
port_in_use() {
  [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# "pid N (command)", or "another process" when the pid is unknown.
describe_pid() {
  if [[ -n "${1:-}" ]]; then
    echo "pid $1 ($(ps -o comm= -p "$1" 2>/dev/null || echo gone))"
  else
    echo "another process"
  fi
}
