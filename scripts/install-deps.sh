#!/usr/bin/env bash
# scripts/install-deps.sh - install what kevy needs to build (and, with
# --test, to run its tests) on Debian 12 / Ubuntu.
#
#   scripts/install-deps.sh          build deps: compiler, cmake, liburing,
#                                    zstd, xxhash, jemalloc (the allocator),
#                                    cmocka, Lua 5.1 with cjson and bitop
#                                    (scripting)
#   scripts/install-deps.sh --test   + redis-server, redis-tools, python3,
#                                    python3-redis (differential and client tests),
#                                    python3-rq (a real job queue: test_rq),
#                                    tcl (Redis's own test suite: tests/compat),
#                                    prometheus-redis-exporter (test_exporter),
#                                    nodejs and npm, then tests/node's locked
#                                    npm packages (BullMQ: test_bullmq)
#
# Idempotent and non-interactive: packages already installed are skipped, and
# apt-get runs only when something is missing.  Runs as root, or through sudo.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config liburing-dev libzstd-dev libxxhash-dev libjemalloc-dev libcmocka-dev
            liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)
TEST_PKGS=(redis-server redis-tools python3 python3-redis python3-rq tcl prometheus-redis-exporter)

want=("${BUILD_PKGS[@]}")
test_deps=no
case "${1:-}" in
  --test)
    want+=("${TEST_PKGS[@]}")
    test_deps=yes
    # Node: Debian's nodejs and npm, unless the machine already has a node
    # and an npm (another distribution's packages would conflict).
    command -v node >/dev/null || want+=(nodejs)
    command -v npm >/dev/null || want+=(npm)
    ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${want[@]}"; do
  installed "$p" || missing+=("$p")
done
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# tests/node: the npm packages of the Node client tests, exactly as locked.
# Without the registry the install fails soft: those tests then skip and
# say why.
node_packages() {
  [[ $test_deps == yes ]] || return 0
  local dir="$ROOT/tests/node"
  if [[ -d "$dir/node_modules/bullmq" && -d "$dir/node_modules/redis" ]]; then
    echo "install-deps.sh: tests/node packages already installed"
    return 0
  fi
  echo "install-deps.sh: npm ci in tests/node"
  (cd "$dir" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    echo "install-deps.sh: warning: npm ci failed in tests/node; test_bullmq and test_node_redis will skip" >&2
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#want[@]} packages already installed"
  node_packages
  exit 0
fi

# Remember whether redis-server is ours to stop: only if this run installs it.
redis_was_installed=yes
installed redis-server || redis_was_installed=no
exporter_was_installed=yes
installed prometheus-redis-exporter || exporter_was_installed=no

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Installing the redis-server package on a systemd (or sysvinit) machine also
# starts a Redis on port 6379, the port run-server.sh gives kevy.  Stop and
# disable that service, but ONLY if this script just installed it: a Redis the
# machine already had is someone else's and is left alone.  The tests start
# their own redis-server processes on random ports and need no service.
if [[ $redis_was_installed == no ]] && installed redis-server; then
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    "${SUDO[@]}" systemctl stop redis-server.service 2>/dev/null || true
    "${SUDO[@]}" systemctl disable redis-server.service 2>/dev/null || true
    echo "install-deps.sh: stopped and disabled the redis-server service it just installed (frees 6379)"
  elif [[ -x /etc/init.d/redis-server ]]; then
    "${SUDO[@]}" /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null; then
      "${SUDO[@]}" update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
    echo "install-deps.sh: stopped the redis-server init service it just installed (frees 6379)"
  fi
fi
# The same for the exporter's service (it would hold 9121 and poll 6379):
# test_exporter runs its own exporters on random ports.
if [[ $exporter_was_installed == no ]] && installed prometheus-redis-exporter; then
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    "${SUDO[@]}" systemctl stop prometheus-redis-exporter.service 2>/dev/null || true
    "${SUDO[@]}" systemctl disable prometheus-redis-exporter.service 2>/dev/null || true
    echo "install-deps.sh: stopped and disabled the prometheus-redis-exporter service it just installed"
  elif [[ -x /etc/init.d/prometheus-redis-exporter ]]; then
    "${SUDO[@]}" /etc/init.d/prometheus-redis-exporter stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null; then
      "${SUDO[@]}" update-rc.d prometheus-redis-exporter disable >/dev/null 2>&1 || true
    fi
    echo "install-deps.sh: stopped the prometheus-redis-exporter init service it just installed"
  fi
fi
node_packages
echo "install-deps.sh: done"
