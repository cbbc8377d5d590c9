#!/usr/bin/env bash
# The baseline build the CI gate holds docpipe against (bench/baseline names its commit):
# that commit's files, taken from this clone's history, compiled with its own build config.
#
#   bash test/stack/baseline.sh build DIR   build it into DIR and print DIR/dist
#
# Its node_modules are this checkout's when the two package-lock.json files are the same (the
# usual case: the same libraries, so the comparison is of docpipe's code alone), else its own
# (its setup.sh npm). Exits 3, with the reason, when the commit is not in this clone (a shallow clone);
# .ci/run then runs the gate without that rule and says so.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

baseline_commit() {
  sed -e 's/#.*//' "$REPO_ROOT/bench/baseline" | awk 'NF { print $1; exit }'
}

build() {
  local dir="$1" commit
  commit="$(baseline_commit)"
  [[ "$commit" =~ ^[0-9a-f]{7,40}$ ]] || die "bench/baseline: expected a commit hash, found '$commit'"
  if ! git -C "$REPO_ROOT" cat-file -e "$commit^{commit}" 2>/dev/null; then
    echo "baseline commit $commit is not in this clone (shallow?); fetch it with: git fetch --unshallow" >&2
    exit 3
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  git -C "$REPO_ROOT" archive "$commit" | tar -x -C "$dir"
  if git -C "$REPO_ROOT" show "$commit:package-lock.json" | cmp -s - "$REPO_ROOT/package-lock.json"; then
    ln -s "$REPO_ROOT/node_modules" "$dir/node_modules"
  else
    note "baseline $commit has other dependencies: its own npm install in $dir" >&2
    bash "$dir/test/stack/setup.sh" npm >&2
  fi
  (cd "$dir" && node node_modules/typescript/bin/tsc -p tsconfig.build.json) >&2
  [[ -f "$dir/dist/pipeline/createPipeline.js" ]] || die "baseline $commit built no dist/pipeline/createPipeline.js"
  note "baseline $commit built in $dir/dist" >&2
  echo "$dir/dist"
}

case "${1:-}" in
  build) build "${2:?usage: baseline.sh build DIR}" ;;
  *) die "usage: baseline.sh build DIR" ;;
esac
