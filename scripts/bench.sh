#!/usr/bin/env bash
# `make bench`: the scale and cold-start benchmark (scripts/bench.py) against a fresh moto server
# with request recording on, then the CPU-only parsing benchmark and the latency benchmark
# (cargo bench).
#   scripts/bench.sh --sizes 1000,10000   # fewer sizes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo build --release --locked
mkdir -p .tmp/bench
export MOTO_RECORDER_FILEPATH="$root/.tmp/bench/recording.jsonl"
echo "moto records requests to $MOTO_RECORDER_FILEPATH"
scripts/moto.sh run .tmp/bench .venv/bin/python scripts/bench.py "$@"
if [ "${SKIP_CARGO_BENCH:-}" != 1 ]; then
  cargo bench --locked --bench parse
  # The pipeline at a real region's latency (25 ms a call), against a fresh emulator.
  scripts/moto.sh run .tmp/latency cargo bench --locked --bench latency -- "${LATENCY_SIZES:-10000,100000}"
fi
