#!/usr/bin/env bash
# `make bench`: the scale and cold-start benchmark (scripts/bench.py) against a fresh moto server
# with request recording on, then the CPU-only parsing benchmark (cargo bench).
#   scripts/bench.sh --sizes 1000,10000   # fewer sizes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo build --release --locked
state=.tmp/bench
mkdir -p "$state"
trap 'scripts/moto.sh stop "$state"' EXIT
export MOTO_RECORDER_FILEPATH="$root/$state/recording.jsonl"
url=$(scripts/moto.sh start "$state")
echo "moto server at $url (recording to $MOTO_RECORDER_FILEPATH)"
AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  .venv/bin/python scripts/bench.py "$@"
if [ "${SKIP_CARGO_BENCH:-}" != 1 ]; then
  cargo bench --locked --bench parse
fi
