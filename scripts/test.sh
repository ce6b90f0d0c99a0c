#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
# README's second command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests need that a fresh machine may lack (each step skips itself when present).
if ! command -v cc >/dev/null; then
  apt-get update -qq && apt-get install -y -qq build-essential
fi

# One cargo invocation: the member crates' unit tests and the single integration-test binary.
cargo test --workspace --no-fail-fast
