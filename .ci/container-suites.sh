#!/usr/bin/env bash
# The backends' integration suites, once, on PostgreSQL in containers (testcontainers), without
# touching a test file: BACKTICK_TEST_CONTAINER=1 makes `backtick_testkit::testdb::server_url()`
# start one container per test process (removed when it exits), and the test filters below
# pick the suites. The rest of CI runs the same tests on the machine's PostgreSQL.
#
#   conformance_suite       the conformance suite (and admin suite) of PgStore and DieselStore
#   *_passes_the_postgres_cases  the shared Postgres cases of both backends (migrations,
#                           LISTEN/NOTIFY, vacuum, bad input, runners)
#   pg::three_runner, pg::a_runner_killed
#                           the crash test (runner processes, one SIGKILLed) on PgStore
#   a_runner_charges_...    examples/testing-app's integration test (TestPostgres: a container
#                           of its own)
#
# Every container is logged by the testkit ("started postgres container <id> from image ...");
# this script lists the labelled containers before and after, and removes those whose test
# process is gone. Always `cargo test --workspace --tests` with name filters: the build is
# the one `cargo xtask ci` makes (selecting one test target, `--test crash`, would build every
# dependency a second time), and filters survive test files moving between binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

OWNER_LABEL=org.backtick.testkit.owner

# Containers labelled by the testkit whose owner process (`<pid>:<start time>`) is gone.
remove_stale_containers() {
  local id owner pid started now
  while read -r id owner; do
    [ -n "$id" ] || continue
    pid="${owner%%:*}"
    started="${owner#*:}"
    now="$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat" 2>/dev/null || true)"
    if [ "$started" != 0 ] && [ "$now" != "$started" ]; then
      echo "ci: removing stale container $id (test process $owner is gone)"
      docker rm -f -v "$id" >/dev/null
    fi
  done < <(docker ps -a --filter "label=$OWNER_LABEL" --format "{{.ID}} {{.Label \"$OWNER_LABEL\"}}")
}

list_containers() {
  echo "ci: testkit containers $1:"
  docker ps -a --filter "label=$OWNER_LABEL" --format '  {{.ID}} {{.Image}} {{.Status}} owner {{.Label "'"$OWNER_LABEL"'"}}'
}

suite() {
  echo "ci: [containers] $1"
  shift
  local started=$SECONDS
  "$@"
  echo "ci: [containers] done in $((SECONDS - started))s"
}

image="$(.ci/container-image.sh)"
echo "ci: container image $image: $(docker image inspect --format '{{.Id}} {{.Size}} bytes' "$image")"
remove_stale_containers
list_containers "before the suites"

export BACKTICK_TEST_CONTAINER=1
export BACKTICK_TEST_POSTGRES_IMAGE="$image"
export CARGO_TERM_COLOR=never

suite "build" cargo test --workspace --tests --locked --no-run
suite "conformance suites and Postgres cases (migrate, notify, ...) of both backends" \
  cargo test --workspace --tests --locked -- conformance_suite passes_the_postgres_cases
suite "crash test on PgStore" \
  cargo test --workspace --tests --locked -- pg::three_runner pg::a_runner_killed
suite "examples/testing-app integration test (TestPostgres)" \
  cargo test --workspace --tests --locked -- a_runner_charges_placed_orders

# The watcher of each finished test process removes its container a moment after it exits.
sleep 2
remove_stale_containers
list_containers "after the suites (none expected)"
