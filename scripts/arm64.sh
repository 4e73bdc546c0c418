#!/usr/bin/env bash
# `make arm64`: the artifact Lambda runs. Cross-builds the arm64 bootstrap exactly as
# `sam build` does (cargo lambda build --release --arm64, Zig as the linker, both from the
# pinned cargo-lambda in .venv), then runs it under qemu-user emulation on one sample request
# against moto (scripts/demo.py), checking what it published and mailed.
#
# `make test` runs it too. Rust's aarch64 standard library is added with rustup, and Debian's
# qemu-user and the aarch64 C library are installed, when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
export PATH="$root/.venv/bin:$PATH"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
cargo-lambda lambda build --release --arm64 --bin bulk-invites --locked
binary=target/lambda/bulk-invites/bootstrap
file "$binary"
if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu ]; then
  apt-get install -y -qq qemu-user libc6-arm64-cross >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq qemu-user libc6-arm64-cross >/dev/null; }
fi
DEMO_BINARY="$binary" DEMO_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
  scripts/moto.sh run .tmp/arm64 .venv/bin/python scripts/demo.py sqs-sns-s3.json
