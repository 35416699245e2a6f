#!/usr/bin/env bash
# The OpenAPI conformance checks (issue 7): validates the served description
# with openapi-spec-validator and runs schemathesis against a live server on
# the embedded store and on PostgreSQL (scripts/conformance.py), with the
# pinned tools of the suite's virtualenv (scripts/python-venv.sh).
# Needs: DATABASE_URL, the debug binary (built if missing), and the JSON:API
# schema of the npm package jsonapi-validator (installed by scripts/test.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=$(scripts/python-venv.sh)

# The debug binary of this tree (a no-op after the nextest run of test.sh).
cargo build --quiet --workspace --all-features --bins
binary="$PWD/target/debug/portcullis"

schema="$PWD/target/jsonapi-validator/node_modules/jsonapi-validator/lib/schema.json"
if [[ ! -f "$schema" ]]; then
  echo "conformance: $schema is missing (scripts/test.sh installs jsonapi-validator first)" >&2
  exit 1
fi
CONFORMANCE_JSONAPI_SCHEMA="$schema" CONFORMANCE_LOG_DIR="$PWD/target/conformance" \
  "$venv/bin/python" scripts/conformance.py "$binary" sqlite postgres
