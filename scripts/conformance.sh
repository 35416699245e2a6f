#!/usr/bin/env bash
# The OpenAPI conformance checks (issue 7): validates the served description
# with openapi-spec-validator and runs schemathesis against a live server on
# the embedded store and on PostgreSQL (scripts/conformance.py). Installs the
# pinned tools into a virtualenv under target/ when missing; failing to
# install them fails the suite (these checks are required).
# Needs: DATABASE_URL, the debug binary (built if missing), and the JSON:API
# schema of the npm package jsonapi-validator (installed by scripts/test.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
HYPOTHESIS_VERSION=6.170.15
venv="$PWD/target/conformance-venv"
if ! "$venv/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(0 if (m.version('schemathesis'), m.version('openapi-spec-validator'), m.version('hypothesis')) == ('$SCHEMATHESIS_VERSION', '$OPENAPI_SPEC_VALIDATOR_VERSION', '$HYPOTHESIS_VERSION') else 1)
" >/dev/null 2>&1; then
  echo "conformance: installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION into $venv" >&2
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian splits venv out of python3.
    echo "conformance: installing python3-venv" >&2
    rm -rf "$venv"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq python3-venv >&2; else sudo apt-get install -y -qq python3-venv >&2; fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" \
    "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
    "hypothesis==$HYPOTHESIS_VERSION" >&2
fi

# The debug binary of this tree (a no-op after the nextest run of test.sh).
cargo build --quiet --workspace --all-features --bins
binary="$PWD/target/debug/portcullis"

schema="$PWD/target/jsonapi-validator/node_modules/jsonapi-validator/lib/schema.json"
if [[ ! -f "$schema" ]]; then
  echo "conformance: $schema is missing (scripts/test.sh installs jsonapi-validator first)" >&2
  exit 1
fi
CONFORMANCE_JSONAPI_SCHEMA="$schema" "$venv/bin/python" scripts/conformance.py "$binary" sqlite postgres
