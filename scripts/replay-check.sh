#!/usr/bin/env bash
# The day-one developer path as a test (part of `make test`): a fresh moto server, the function
# under `cargo lambda watch` (pinned cargo-lambda from requirements-dev.txt), every sample in
# events/ invoked with `cargo lambda invoke` and checked by scripts/replay.py: what was
# published, what was mailed, the batch response and the request's EMF metrics line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
dir=.tmp/replay
mkdir -p "$dir"
watch_pid=
cleanup() {
  if [ -n "$watch_pid" ]; then kill -- -"$watch_pid" 2>/dev/null || kill "$watch_pid" 2>/dev/null || true; fi
  scripts/moto.sh stop "$dir"
}
trap cleanup EXIT
url=$(scripts/moto.sh start "$dir")
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2
unset AWS_PROFILE AWS_SESSION_TOKEN
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python scripts/replay.py env "$dir/lambda.env"
# Built before watch starts it, so the first invoke does not wait on the compiler.
cargo build --locked --bin bulk-invites
set -m
.venv/bin/cargo-lambda lambda watch --invoke-port "$port" --env-file "$dir/lambda.env" >"$dir/watch.log" 2>&1 &
watch_pid=$!
set +m
for _ in $(seq 1 100); do
  if grep -q "starting Runtime server" "$dir/watch.log" 2>/dev/null; then break; fi
  sleep 0.2
done
echo "cargo lambda watch on port $port (log: $dir/watch.log)"
INVOKE_PORT=$port CARGO_LAMBDA=.venv/bin/cargo-lambda WATCH_LOG="$dir/watch.log" \
  .venv/bin/python scripts/replay.py check
