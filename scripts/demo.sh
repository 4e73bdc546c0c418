#!/usr/bin/env bash
# `make demo`: installs what is needed, builds the release binary, and runs one real bulk request
# end to end (scripts/demo.py) against a moto server on loopback that is stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
scripts/moto.sh run .tmp/demo .venv/bin/python scripts/demo.py "$@"
