#!/usr/bin/env bash
# Installs what the README's commands need, pinned: moto server, boto3, cfn-lint and
# cargo-lambda into .venv (requirements-dev.txt); the SAM CLI into .venv-sam
# (requirements-sam.txt; its own venv, since it pins its own boto3). Rust crates come from
# Cargo.lock. Safe to run again: it only installs what is missing or changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
install() {
  local venv=$1 requirements=$2
  local stamp=$venv/.requirements-installed
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
  fi
}
install .venv requirements-dev.txt
if [ "${1:-}" = "--with-sam" ]; then
  install .venv-sam requirements-sam.txt
fi
