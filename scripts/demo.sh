#!/usr/bin/env bash
# The main job: 5 local Redis nodes, contenders for one lock, node failures,
# then a leader election with a resignation, a crash and a frozen quorum.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh >/dev/null
exec cargo run --quiet --release -p redlead-core --example demo
