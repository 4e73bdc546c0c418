#!/usr/bin/env bash
# `make bench`: the scale and cold-start benchmark (scripts/bench.py) against a fresh moto server
# with request recording on, then the CPU-only parsing benchmark and the latency benchmark
# (cargo bench), and the million-row run.
#   scripts/bench.sh --sizes 1000,10000   # fewer sizes
#   MILLION_SIZES=100000 scripts/bench.sh # a smaller "million" run
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
  # A million short rows from a real queue, each invocation given the template's 150 s,
  # SNS and the block lookups answered by the test client (issue 20; about 8 minutes).
  scripts/moto.sh run .tmp/million cargo bench --locked --bench latency -- "${MILLION_SIZES:-100000,1000000}" --local
fi
