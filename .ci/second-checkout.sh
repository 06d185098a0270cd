#!/usr/bin/env bash
# A second checkout, cloned inside a directory only root may enter (CI runs as root, initdb as
# `postgres`), while this checkout's workspace cluster runs: `cargo xtask demo` and a test run on
# the zero-config test cluster must pass there with no database configured. The test run is the
# backtick-postgres conformance suite (it takes its server from the testkit's zero-config
# `testdb::server_url`), not the whole suite: the point is the cluster's place and port.
#
# Compiled artifacts are shared (CARGO_TARGET_DIR = this checkout's target) to stay within the
# CI time budget; the cluster is not: it lives in the checkout's own target/backtick-pg whatever
# CARGO_TARGET_DIR says (`testdb::workspace_cluster_dir`), so the second checkout finds this
# one's cluster on the port and moves to the next free one, exactly as a separate checkout.
#
# BACKTICK_CI_FIRST_PORT (optional, for a machine whose 55432.. range belongs to others): pin
# this checkout's cluster to that port and start the second checkout's look there.
set -euo pipefail
cd "$(dirname "$0")/.."
first=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$first/target}"
unset BACKTICK_TEST_DATABASE_URL DATABASE_URL BT_DATABASE_URL BACKTICK_TEST_CONTAINER

first_env=()
if [[ -n "${BACKTICK_CI_FIRST_PORT:-}" ]]; then
  first_env=(BACKTICK_TEST_PG_PORT="$BACKTICK_CI_FIRST_PORT")
fi
first_was_running=0
if env "${first_env[@]}" cargo xtask db status 2>/dev/null | grep -q "^running"; then
  first_was_running=1
fi
first_url=$(env "${first_env[@]}" cargo xtask db start)
echo "ci: first checkout's cluster: $first_url"

private=$(mktemp -d /tmp/backtick-private.XXXXXX)
chmod 700 "$private"
second="$private/second"
started_at=$(date +%s)
cleanup() {
  (cd "$second" 2>/dev/null && cargo xtask db stop) || true
  if [[ $first_was_running == 0 ]]; then (cd "$first" && env "${first_env[@]}" cargo xtask db stop) || true; fi
  # The postgres user cannot enter $private, so the second cluster's data went to
  # /tmp/backtick-pg-<hash of its directory>; remove the ones this run made.
  find /tmp -maxdepth 1 -name 'backtick-pg-*' -newermt "@$started_at" -user postgres -exec rm -rf {} + || true
  rm -rf "$private"
}
trap cleanup EXIT

git clone -q "$first" "$second"
test "$(stat -c %a "$private")" = 700
if [[ -n "${BACKTICK_CI_FIRST_PORT:-}" ]]; then
  mkdir -p "$second/target/backtick-pg"
  echo "$BACKTICK_CI_FIRST_PORT" > "$second/target/backtick-pg/port"
fi
cd "$second"
cargo xtask demo
cargo test --locked -p backtick-postgres --test conformance
second_url=$(cargo xtask db url)
cargo xtask db status
echo "ci: second checkout's cluster: $second_url"
if [[ "$second_url" == "$first_url" ]]; then
  echo "ci: the second checkout used the first checkout's cluster" >&2
  exit 1
fi
(cd "$first" && env "${first_env[@]}" cargo xtask db status | grep -q "^running") || {
  echo "ci: the first checkout's cluster stopped" >&2
  exit 1
}
echo "ci: second checkout in a private directory passed"
