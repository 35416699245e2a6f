#!/usr/bin/env bash
# The long fault run (`just soak`): a steady mixed load on one real server
# process (no 5xx, resident memory flat after warm-up), then kill -9 cycles
# under write load (nothing acknowledged lost, every outbox event delivered),
# each for SOAK_SECONDS (default 300) on PostgreSQL. Starts or installs
# PostgreSQL like the test suite when DATABASE_URL is not given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

eval "$(scripts/postgres.sh)"
export DATABASE_URL
export SOAK_SECONDS="${SOAK_SECONDS:-300}"
echo "soak: ${SOAK_SECONDS}s per scenario, PostgreSQL at ${DATABASE_URL}"
cargo nextest run -p portcullis-app --test integration --run-ignored only \
  --no-capture --test-threads 1 soak
