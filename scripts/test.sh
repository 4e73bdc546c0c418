#!/usr/bin/env bash
# `make test`: installs what is needed (pinned), runs every test (unit, emulator-backed
# integration, cold start) against a moto server on loopback that is stopped afterwards,
# replays every sample event through cargo lambda, checks the SAM template (cfn-lint,
# sam validate --lint, both ways of deploying it rendered, the IAM every SDK call needs), and
# builds and runs the arm64 artifact under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-sam
# Property tests run on a fixed seed here, so the test command is deterministic; explore with
# PROPTEST_RNG_SEED unset (a random seed) and PROPTEST_CASES raised, and keep what they find.
export PROPTEST_RNG_SEED=${PROPTEST_RNG_SEED:-20261127}
scripts/moto.sh run .tmp/test cargo test --locked --all-targets
echo "replaying events/ through cargo lambda watch"
scripts/replay-check.sh
echo "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "sam validate --lint"
SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template template.yaml --region us-west-2
echo "template rendered with its own queue and with an existing one, before and after the SAM transform"
.venv-sam/bin/python scripts/check_template.py
echo "IAM: every SDK call's actions granted (docs/iam-actions.csv)"
.venv-sam/bin/python scripts/check_iam.py
echo "template.yaml passed"
# The arm64 artifact Lambda runs, cross-built and run on a sample under qemu (make arm64); the
# aarch64 standard library is added with rustup when missing.
echo "arm64 artifact: cross-build with cargo lambda, run under qemu-aarch64"
scripts/arm64.sh
