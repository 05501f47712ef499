#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:6379 for the scale-out tests: uses a running
# one, starts an installed one, or installs Debian's package and starts it (loopback only).
set -uo pipefail

ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ready && exit 0
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: not installed; installing Debian's redis-server package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null || {
    echo "redis: could not install redis-server" >&2; exit 1; }
fi
# A local test server: loopback only, nothing written to disk.
redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize yes \
  >/dev/null 2>&1 || true
for _ in $(seq 1 20); do ready && break; sleep 0.5; done
ready || { echo "redis: the server did not start" >&2; exit 1; }
echo "redis: ready on 127.0.0.1:6379"
