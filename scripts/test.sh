#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
# README's second command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests need that a fresh machine may lack (each step skips itself when present).
export DEBIAN_FRONTEND=noninteractive
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@"
}
if ! command -v cc >/dev/null; then
  apt_install build-essential
fi
# Prometheus and promtool: tests/observability.rs scrapes a running fangpin with the real
# server and checks the alert rules (Debian's package ships both binaries).
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  apt_install --no-install-recommends prometheus
fi

# One cargo invocation: the member crates' unit tests and the single integration-test binary.
cargo test --workspace --no-fail-fast
