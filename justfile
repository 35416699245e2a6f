# Developer recipes. Install `just` with `pip install rust-just` (a prebuilt
# binary, seconds) or `cargo install just` (minutes). `just` alone lists them.

set shell := ["bash", "-eu", "-o", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Build and run the server (embedded store in ./data); extra arguments go to the binary, e.g. `just run environments create staging`.
run *args:
    cargo run --release -p portcullis-app -- {{ args }}

# The whole test suite exactly as CI runs it (starts or installs PostgreSQL when DATABASE_URL is unset).
test:
    scripts/test.sh

# Formatting check, clippy with warnings as errors, rustdoc with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

# Layering bans, licence allow-list and sources (offline; the advisories check needs GitHub: `cargo deny check advisories`).
deny:
    cargo deny check bans licenses sources

# Benchmarks (scripts/bench.sh).
bench *args:
    scripts/bench.sh {{ args }}

# Long fault run: steady mixed load (memory, no 5xx) then kill -9 cycles, each SOAK_SECONDS (default 300).
soak seconds="300":
    SOAK_SECONDS={{ seconds }} scripts/soak.sh

# Format every crate in place.
fmt:
    cargo fmt --all
