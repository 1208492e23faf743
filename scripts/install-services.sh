#!/usr/bin/env bash
# Installs the real servers the tests and the demo run against, if this machine lacks them:
# Debian's redis-server, and FerretDB v1.24.2 (a MongoDB wire-protocol server) built from the
# Go module proxy into a cache folder, so a second run does not build it again.
# With --postgres it also installs Debian's postgresql package (PostgreSQL's server binaries,
# which the benchmarks use to run FerretDB on PostgreSQL) if no initdb is on the PATH or
# under /usr/lib/postgresql/*/bin.
# Prints nothing on success when everything asked for is already present.
set -euo pipefail

want_postgres=no
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=yes ;;
    *) echo "install-services: unknown argument $arg (known: --postgres)" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi

FERRETDB_VERSION=v1.24.2
cache_dir="${DBAAS_CACHE_DIR:-$HOME/.cache/dbaas-worker}"
ferretdb_bin="$cache_dir/bin/ferretdb-$FERRETDB_VERSION"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "install-services: installing redis-server from Debian" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

if [ "$want_postgres" = yes ] && ! command -v initdb >/dev/null 2>&1 &&
  ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "install-services: installing postgresql from Debian" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

if [ ! -x "$ferretdb_bin" ]; then
  echo "install-services: building FerretDB $FERRETDB_VERSION (once; cached in $cache_dir)" >&2
  command -v go >/dev/null 2>&1 || { echo "install-services: Go is required to build FerretDB" >&2; exit 1; }
  src_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src_dir" ] || { echo "install-services: could not download FerretDB sources" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  cp -r "$src_dir/." "$work/"
  chmod -R u+w "$work"
  # A build outside FerretDB's own git checkout must be told its version, or it panics at start.
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  mkdir -p "$cache_dir/bin"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$ferretdb_bin.partial" ./cmd/ferretdb)
  mv "$ferretdb_bin.partial" "$ferretdb_bin"
fi
