#!/usr/bin/env bash
# `make demo`: installs what is needed, builds the release binary, starts moto on loopback,
# runs one real bulk request end to end (scripts/demo.py), and stops moto.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo build --release --locked
state=.tmp/demo
trap 'scripts/moto.sh stop "$state"' EXIT
url=$(scripts/moto.sh start "$state")
echo "moto server at $url"
AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  .venv/bin/python scripts/demo.py "$@"
