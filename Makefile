# The two commands of the README, and a few helpers. Each installs what it needs.
.PHONY: demo test lint bench dev arm64

## Run a real bulk request end to end against the local AWS emulator (moto server).
demo:
	scripts/demo.sh

## Run every test: unit, emulator-backed integration, cold start, and cfn-lint on the template.
test:
	scripts/test.sh

## Formatting and clippy, as CI checks them; the fuzz targets must still compile.
lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo check --locked --manifest-path fuzz/Cargo.toml

## Scale (1k/10k/100k rows against moto), a million rows, cold-start and parsing benchmarks; see BENCHMARKS.md.
bench:
	scripts/bench.sh

## A seeded moto server for replaying events/ with cargo lambda; prints the commands. Ctrl-C stops it.
dev:
	scripts/dev.sh

## The arm64 artifact Lambda runs, cross-built as sam build does and run on a sample under qemu.
arm64:
	scripts/arm64.sh
