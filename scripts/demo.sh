#!/usr/bin/env bash
# The demo: `redlead demo` starts 5 local redis-server nodes and 3 candidates,
# then kills a node, makes the leader resign, crashes it, freezes a quorum,
# and prints each failover time next to what the design promises.
# Extra arguments go to `redlead demo` (e.g. --ttl 1s --candidates 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh >/dev/null
exec cargo run --quiet --release -p redlead-cli -- demo "$@"
