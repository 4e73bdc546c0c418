#!/usr/bin/env bash
# `make test`: installs what is needed, starts moto on loopback, runs every test (unit,
# emulator-backed integration, cold start), lints the SAM template, and stops moto.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
state=.tmp/test
trap 'scripts/moto.sh stop "$state"' EXIT
url=$(scripts/moto.sh start "$state")
echo "moto server at $url"
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2
unset AWS_PROFILE AWS_SESSION_TOKEN
cargo test --locked --all-targets
echo "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: template.yaml passed"
