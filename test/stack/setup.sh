#!/usr/bin/env bash
# Everything a fresh Debian machine needs to build docpipe and run it with its tests:
# system packages (as root), npm packages with the Kafka client built against them, the
# Kafka broker's jars, and the stack (MariaDB, PostgreSQL and a local broker) running.
#
#   bash test/stack/setup.sh            all of it
#   bash test/stack/setup.sh packages   system packages only
#   bash test/stack/setup.sh npm        npm packages only
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# Headers and libraries the bundled librdkafka links against (built with CKJS_LINKING=dynamic,
# because the client's own build would download their sources, which fails offline), plus
# what the stack runs on.
BUILD_PACKAGES=(build-essential python3 libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev)
RUNTIME_PACKAGES=(openjdk-17-jre-headless maven mariadb-server mariadb-client iproute2)

packages() {
  local missing=() p
  for p in "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # A JDK or Maven installed another way counts as present.
  if command -v java >/dev/null; then missing=("${missing[@]/openjdk-17-jre-headless}"); fi
  if command -v mvn >/dev/null; then missing=("${missing[@]/maven}"); fi
  # The machines come with a PostgreSQL server, whose client may be a versioned package
  # (postgresql-client-15): any psql will do.
  command -v psql >/dev/null || missing+=(postgresql-client)
  read -r -a missing <<<"${missing[*]}"
  if ((${#missing[@]} == 0)); then
    note "system packages: all present"
    return 0
  fi
  if [[ "$(id -u)" != 0 ]]; then
    die "missing Debian packages: ${missing[*]}. Install them as root: apt-get install -y ${missing[*]}"
  fi
  note "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

npm_packages() {
  require node "Install Node.js 22 or 24 (or 20.19+)."
  # The release lines and lowest releases package.json's engines names.
  node -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    const lowest = { 20: 19, 22: 13, 24: 0 }[major];
    process.exit(lowest !== undefined && minor >= lowest ? 0 : 1);
  ' || die "docpipe needs Node.js ^20.19, ^22.13 or ^24 (package.json, engines); this is $(node --version)."
  export CKJS_LINKING=dynamic
  # node-gyp would download Node's headers; use the installed ones when they are there.
  if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node.h ]]; then
    export npm_config_nodedir=/usr
  fi
  npm ci --no-audit --no-fund
  node -e "require('@confluentinc/kafka-javascript')" ||
    die "the Kafka client did not build; see the npm output above."
}

case "${1:-all}" in
  packages) packages ;;
  npm) npm_packages ;;
  all)
    packages
    npm_packages
    bash "$STACK_SCRIPTS/stack.sh" up
    ;;
  *) die "usage: setup.sh [packages|npm|all]" ;;
esac
