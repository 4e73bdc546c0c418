#!/usr/bin/env bash
# `make dev`: a moto server seeded with the demo world, for replaying events/ with cargo lambda.
# Prints what to export and the exact commands, then waits; Ctrl-C stops the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
dir=.tmp/dev
mkdir -p "$dir"
trap 'scripts/moto.sh stop "$dir"; echo; echo "moto server stopped"' EXIT
url=$(scripts/moto.sh start "$dir")
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2
.venv/bin/python scripts/replay.py seed
.venv/bin/python scripts/replay.py env "$dir/lambda.env"
cat <<MSG

moto server: $url (state: $dir)
The function's environment is in $dir/lambda.env. In another terminal, from $root:

  .venv/bin/cargo-lambda lambda watch --env-file $dir/lambda.env
  .venv/bin/cargo-lambda lambda invoke bulk-invites --data-file events/sqs-sns-s3.json

(or \`cargo lambda …\` if cargo-lambda is on your PATH). Every file in events/ works; see the
docs/development.md for what each one does. To look at the emulator yourself:

  export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2
  curl -s \$AWS_ENDPOINT_URL/moto-api/data.json | python3 -m json.tool | less

Ctrl-C stops the server.
MSG
while true; do sleep 3600; done
