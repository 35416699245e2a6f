#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests (the store and
# HTTP tests against a real PostgreSQL and the embedded SQLite store), and doc
# tests. Starts or installs PostgreSQL itself when DATABASE_URL is not given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

eval "$(scripts/postgres.sh)"
export DATABASE_URL
echo "test suite: PostgreSQL at ${DATABASE_URL}"

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features --quiet

# The layering (only the store adapter sees diesel, only http/app see
# actix-web, only the crypto adapter sees josekit), licenses and sources.
if ! cargo deny --version >/dev/null 2>&1; then
  echo "test suite: installing cargo-deny" >&2
  cargo install cargo-deny --locked --quiet
fi
cargo deny --log-level error check bans licenses sources

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test suite: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked --quiet
fi
cargo test --workspace --all-features --doc --quiet

# The suite's pinned Python tools, in its own virtualenv (never the global
# Python). Its bin/ comes first on PATH for the tests, so their `python3` has
# the Standard Webhooks reference library, with which the webhook tests
# verify deliveries as a receiver would.
venv=$(scripts/python-venv.sh)

# The end-to-end tests write every JSON:API document they receive here...
capture="$PWD/target/jsonapi-documents"
rm -rf "$capture"
PATH="$venv/bin:$PATH" JSONAPI_CAPTURE_DIR="$capture" cargo nextest run --workspace --all-features --no-fail-fast

# ...and each must validate against the JSON:API JSON Schema, as shipped by
# the npm package jsonapi-validator (an outside view of our documents).
validator="$PWD/target/jsonapi-validator"
if [[ ! -d "$validator/node_modules/jsonapi-validator" ]]; then
  echo "test suite: installing jsonapi-validator from npm" >&2
  npm install --prefix "$validator" --no-audit --no-fund --silent jsonapi-validator@3.0.5 >&2
fi
node scripts/jsonapi-check.js "$validator" "$capture"

# The served OpenAPI description is valid (openapi-spec-validator) and the
# server conforms to it under property-based testing (schemathesis), on both
# stores: no 5xx, every status documented, every response matching its
# schema and, for JSON:API documents, the JSON:API schema.
scripts/conformance.sh
