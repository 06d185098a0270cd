#!/usr/bin/env bash
# The container engine and the local PostgreSQL image that the testcontainers suites run on.
#
# These machines run a Docker engine (Debian's `docker.io`) but cannot pull from any public
# image registry, so the image is built here from Debian's own packages: a minimal root file
# system made with `debootstrap` (the host's release, from the host's apt mirror),
# `postgresql-15` installed into it, an entrypoint that runs `initdb` and then `postgres` as the
# `postgres` user, all `docker import`ed as $IMAGE. The image is the cache: a later run on the
# same machine finds it and builds nothing. Its label `org.backtick.recipe` holds the hash of
# this script, so changing the recipe rebuilds it.
#
# Usage: .ci/container-image.sh            # installs/starts what is missing, prints the image name
# Environment:
#   BACKTICK_TEST_POSTGRES_IMAGE  image to build (default backtick-postgres:15-local)
#   BACKTICK_DEBIAN_MIRROR        apt mirror (default: the first URIs/deb line of /etc/apt)
#   BACKTICK_CI_CACHE             scratch space for the build (default /var/cache/backtick-ci)
#
# Everything it prints goes to stderr except the image name (last line of stdout), so
# `image=$(.ci/container-image.sh)` works.
set -euo pipefail

IMAGE="${BACKTICK_TEST_POSTGRES_IMAGE:-backtick-postgres:15-local}"
CACHE="${BACKTICK_CI_CACHE:-/var/cache/backtick-ci}"
PG_MAJOR=15
RECIPE="$(sha256sum "$0" | cut -c1-16)"

say() { echo "container-image: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# The engine: started here when nothing answers, without a bridge network or iptables rules
# (every test container uses the host's network), logging to /var/log/dockerd.log.
start_engine() {
  docker info >/dev/null 2>&1 && return
  say "starting dockerd (log: /var/log/dockerd.log)"
  as_root sh -c 'nohup dockerd --bridge=none --iptables=false --ip-masq=false >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  say "dockerd did not answer within 60s; last lines of /var/log/dockerd.log:"
  tail -20 /var/log/dockerd.log >&2 || true
  exit 1
}

image_is_current() {
  [ "$(docker image inspect --format '{{ index .Config.Labels "org.backtick.recipe" }}' "$IMAGE" 2>/dev/null)" = "$RECIPE" ]
}

debian_mirror() {
  if [ -n "${BACKTICK_DEBIAN_MIRROR:-}" ]; then echo "$BACKTICK_DEBIAN_MIRROR"; return; fi
  local found
  found="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -m1 '/debian$' | awk '{print $2}' || true)"
  [ -z "$found" ] && found="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -m1 '/debian ' | awk '{print $2}' || true)"
  echo "${found:-http://deb.debian.org/debian}"
}

# The entrypoint baked into the image. Same interface as the official image's
# docker-entrypoint.sh for what the tests use: arguments starting with `-` go to postgres,
# PGPORT sets the port, PGDATA the data directory; it always trusts local connections and
# listens on 127.0.0.1 only (the container shares the host's network).
write_entrypoint() {
  cat >"$1" <<'EOF'
#!/bin/sh
# initdb on first start, then postgres in the foreground as the postgres user.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "${1:-}" != postgres ]; then exec "$@"; fi
shift
: "${PGDATA:=/var/lib/postgresql/data}"
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  runuser -u postgres -- initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" -A trust -E UTF8 --locale=C --no-sync >&2
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 "$@"
EOF
  chmod 755 "$1"
}

build_image() {
  local mirror work rootfs started
  started=$(date +%s)
  mirror="$(debian_mirror)"
  . /etc/os-release
  work="$CACHE/build-$$"
  rootfs="$work/rootfs"
  mkdir -p "$work"
  trap 'umount "'"$rootfs"'/proc" 2>/dev/null || true; rm -rf "'"$work"'"' EXIT
  say "building $IMAGE: debootstrap $VERSION_CODENAME from $mirror into $rootfs"
  as_root debootstrap --variant=minbase "$VERSION_CODENAME" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -30 "$work/debootstrap.log" >&2
    exit 1
  }
  # No service may start inside the chroot (it shares the host's network and port 5432), and
  # the package must not create a cluster of its own: the entrypoint makes one at start.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
  echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.d/backtick.conf"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  as_root mount -t proc proc "$rootfs/proc"
  say "installing postgresql-$PG_MAJOR into the root file system"
  as_root chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "postgresql-$PG_MAJOR" >"$work/apt.log" 2>&1 || {
    tail -30 "$work/apt.log" >&2
    exit 1
  }
  as_root chroot "$rootfs" apt-get clean
  as_root umount "$rootfs/proc"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs/etc/resolv.conf"
  write_entrypoint "$rootfs/usr/local/bin/docker-entrypoint.sh"
  say "importing the root file system as $IMAGE"
  tar -C "$rootfs" -c . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    -c 'CMD ["postgres"]' \
    -c "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c "LABEL org.backtick.recipe=$RECIPE" \
    -c "LABEL org.backtick.postgres=$PG_MAJOR" \
    - "$IMAGE" >&2
  say "built $IMAGE in $(($(date +%s) - started))s"
}

main() {
  install_missing
  start_engine
  mkdir -p "$CACHE"
  # One build at a time on a machine: a second run waits, then finds the image.
  exec 9>"$CACHE/image.lock"
  flock 9
  if image_is_current; then
    say "$IMAGE is present (recipe $RECIPE): nothing to build"
  else
    build_image
  fi
  echo "$IMAGE"
}

main "$@"
