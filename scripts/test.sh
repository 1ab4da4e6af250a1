#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
cd build
ctest -j "$(nproc)" --output-on-failure --timeout 600
