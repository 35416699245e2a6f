#!/usr/bin/env bash
# The suite's own Python tools, pinned, in a virtualenv under target/ (never
# the global Python): schemathesis, openapi-spec-validator and hypothesis for
# the OpenAPI conformance checks (scripts/conformance.sh), and the Standard
# Webhooks reference library, with which the webhook tests verify deliveries
# as a receiver would. Installs them when missing or at other versions;
# failing to install fails the suite (the checks they run are required).
# Prints the virtualenv's directory on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
HYPOTHESIS_VERSION=6.170.15
STANDARDWEBHOOKS_VERSION=1.1.0
venv="$PWD/target/test-venv"
if ! "$venv/bin/python" -c "
import importlib.metadata as m, sys
wanted = {'schemathesis': '$SCHEMATHESIS_VERSION', 'openapi-spec-validator': '$OPENAPI_SPEC_VALIDATOR_VERSION',
          'hypothesis': '$HYPOTHESIS_VERSION', 'standardwebhooks': '$STANDARDWEBHOOKS_VERSION'}
sys.exit(0 if all(m.version(name) == version for name, version in wanted.items()) else 1)
" >/dev/null 2>&1; then
  echo "python tools: installing schemathesis $SCHEMATHESIS_VERSION, openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION, hypothesis $HYPOTHESIS_VERSION and standardwebhooks $STANDARDWEBHOOKS_VERSION into $venv" >&2
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian splits venv out of python3.
    echo "python tools: installing python3-venv" >&2
    rm -rf "$venv"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq python3-venv >&2; else sudo apt-get install -y -qq python3-venv >&2; fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" \
    "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
    "hypothesis==$HYPOTHESIS_VERSION" \
    "standardwebhooks==$STANDARDWEBHOOKS_VERSION" >&2
fi
echo "$venv"
