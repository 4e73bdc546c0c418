#!/usr/bin/env bash
# `make test`: installs what is needed, runs every test (unit, emulator-backed integration,
# cold start) against a moto server on loopback that is stopped afterwards, and lints the SAM
# template.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/moto.sh run .tmp/test cargo test --locked --all-targets
echo "replaying events/ through cargo lambda watch"
scripts/replay-check.sh
echo "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: template.yaml passed"
