#!/usr/bin/env bash
# `just bench`: throughput and latency of the token endpoint and of
# `GET /api/users/:id` on PostgreSQL, each printed beside the machine's ceiling
# measured in the same run (see shared/style/STACK.md, "Measuring on two
# cores"). A benchmark, not a test: it prints PASS/FAIL against the targets
# but exits 0 unless something broke (BENCH_STRICT=1 makes a missed target
# exit 3).
#
# Figures, each as the median (and min-max) of BENCH_RUNS runs of
# BENCH_SECONDS after BENCH_WARMUP seconds of warm-up:
#   raw RS256 signing   sign_ceiling example: josekit on every core, no HTTP
#   token floor         token_floor example: actix + form parsing + josekit
#                       signing only, loaded like the real endpoint
#   POST /oauth/token   portcullis, client credentials with HTTP Basic
#   POST /oauth/token, trivial pre_token action: the same with a pre_token
#                       action that adds one claim (QuickJS, compiled code
#                       reused; each run recorded in the background)
#   pgbench PK select   pgbench -M prepared -c16 selecting the bench user by
#                       primary key in the bench database
#   GET /api/users/:id  portcullis, bearer token (a JWT)
#   POST /oauth/introspect  portcullis, RFC 7662 introspection of an opaque
#                       token by a confidential client (two primary-key reads:
#                       the caller, the token by digest), beside pgbench
#   GET /api/users/:id, opaque token: the same read with an opaque bearer
#                       token (one more primary-key read per request)
#   webhooks            events per second the delivery worker drains from a
#                       backlog of BENCH_WEBHOOK_EVENTS (2000) queued
#                       deliveries to webhook_sink (a fast local receiver on
#                       127.0.0.1 that answers 204), signing each request
#                       and recording each attempt
# Targets: token endpoint >= 70 % of the token floor; user reads >= 25 % of
# pgbench. The opaque and webhook figures have no target yet: they are reported.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_SECONDS (8), BENCH_WARMUP (2),
# BENCH_DB (portcullis_bench, dropped and re-created), BENCH_CONNECTIONS (64), BENCH_THREADS (2, wrk threads), BENCH_NO_BUILD=1
# (use the binaries already in target/release), BENCH_STRICT=1,
# BENCH_ONLY="token users" (a subset of: sign floor token action pgbench
# users introspect opaque webhooks). BENCH_PROFILE=debug with
# BENCH_NO_BUILD=1 runs debug binaries (quick looks only; quote release
# figures).
# PORTCULLIS_* variables (e.g. PORTCULLIS_SERVER__WORKERS,
# PORTCULLIS_DATABASE__POOL_SIZE) pass through to the server under test.
# Raw outputs (wrk, pgbench, server log) are kept under target/bench/<time>/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-8}
warmup=${BENCH_WARMUP:-2}
connections=${BENCH_CONNECTIONS:-64}
wrk_threads=${BENCH_THREADS:-2}
only=" ${BENCH_ONLY:-sign floor token action pgbench users introspect opaque webhooks} "
hook_events=${BENCH_WEBHOOK_EVENTS:-2000}
profile=${BENCH_PROFILE:-release}
bench_db=${BENCH_DB:-portcullis_bench}
client_id=bench-client
client_secret=bench-client-secret-0123456789abcdefghij
user_email=bench@example.com

say() { printf '\n== %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
wants() { [[ "$only" == *" $1 "* ]]; }

sudo_cmd=""
[[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
apt_install() {
  echo "bench: installing $* from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >&2 ||
    { $sudo_cmd apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >&2; }
}

# --- tools ------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v curl >/dev/null 2>&1 || apt_install curl
command -v openssl >/dev/null 2>&1 || apt_install openssl
command -v jq >/dev/null 2>&1 || apt_install jq

# --- build (release, once, into the shared target dir) -----------------------
if [[ "${BENCH_NO_BUILD:-}" != 1 ]]; then
  say "building release binaries"
  cargo build --release --quiet \
    -p portcullis-app --bin portcullis --example token_floor --example webhook_sink \
    -p portcullis-adapters-crypto --example sign_ceiling
fi
server_bin=$root/target/$profile/portcullis
floor_bin=$root/target/$profile/examples/token_floor
sign_bin=$root/target/$profile/examples/sign_ceiling
sink_bin=$root/target/$profile/examples/webhook_sink
needed=("$server_bin")
wants floor && needed+=("$floor_bin")
wants sign && needed+=("$sign_bin")
wants webhooks && needed+=("$sink_bin")
for bin in "${needed[@]}"; do
  [[ -x "$bin" ]] || die "$bin is missing (run without BENCH_NO_BUILD=1)"
done

# --- PostgreSQL ----------------------------------------------------------------
eval "$(scripts/postgres.sh)"
command -v pgbench >/dev/null 2>&1 || apt_install postgresql-client
command -v pgbench >/dev/null 2>&1 || die "pgbench not found (Debian package postgresql-client)"
admin_url=$DATABASE_URL
case "$admin_url" in
  *\?*) url_base=${admin_url%%\?*}; url_query="?${admin_url#*\?}" ;;
  *) url_base=$admin_url; url_query="" ;;
esac
[[ "$url_base" =~ ^postgres(ql)?://[^/]+/[^/]*$ ]] || die "DATABASE_URL must be postgres://HOST/DB: $admin_url"
bench_url="${url_base%/*}/$bench_db$url_query"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# --- scratch, clean-up ----------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
out=$root/target/bench/$stamp
mkdir -p "$out/run"
server_pid=""
floor_pid=""
db_created=""
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
sink_pid=""
cleanup() {
  local status=$?
  stop_pid "$sink_pid"
  stop_pid "$floor_pid"
  stop_pid "$server_pid"
  if [[ -n "$db_created" ]]; then
    psql "$admin_url" -qAtX -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 ||
      echo "bench: could not drop database $bench_db" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

wait_ready() { # URL PID LOG
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { tail -n 30 "$3" >&2; die "the server exited before it was ready ($3)"; }
    sleep 0.1
  done
  tail -n 30 "$3" >&2
  die "not ready after 30 s: $1"
}

# --- machine load -----------------------------------------------------------------
cores=$(nproc)
load_note() { # what is running besides us, right now
  local others
  others=$(top -bn1 -w 200 | awk 'NR > 7 && $9 + 0 >= 20 { printf "%s (pid %s, %s%% CPU); ", $12, $1, $9 }')
  printf 'load average %s; busy processes: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" "${others:-none}"
}
say "machine: $cores cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(load_note)"
echo "settings: $runs runs x ${seconds}s after ${warmup}s warm-up; wrk -t$wrk_threads -c$connections; pgbench -c16 -j2"
echo "raw output: $out"
load_log=$out/load.txt
: >"$load_log"

# Other work on the machine during a figure: CPU time (utime + stime +
# children's) of every process, from /proc, at the start and the end of the
# figure; "other" is what processes outside the figure used (OURS, a regex of
# command names: postgres belongs to the server and pgbench figures only; this
# script, whose children wrk and pgbench are, and kernel threads are left out).
# A compiler run by cargo shows up in cargo's children's time when it ends
# (all of its time, so this errs high); orphans reaped by init are missed.
ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)
proc_snapshot() { # "pid comm ppid ticks" per process
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    o = index($0, "("); c = 0
    for (i = length($0); i > o; i--) if (substr($0, i, 1) == ")") { c = i; break }
    comm = substr($0, o + 1, c - o - 1); gsub(/[ \t]/, "_", comm)
    split(substr($0, c + 2), f, " ")
    print $1, comm, f[2], f[12] + f[13] + ($1 == 1 ? 0 : f[14] + f[15])
  }'
}
sample_start() { # KEY
  proc_snapshot >"$out/$1.proc.start"
  sample_started=$(date +%s.%N)
}
sample_stop() { # KEY OURS
  local elapsed
  proc_snapshot >"$out/$1.proc.end"
  elapsed=$(awk -v a="$sample_started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  OTHER[$1]=$(awk -v ours="^($2)\$" -v me="$$" -v hz="$ticks" -v secs="$elapsed" '
    FNR == NR { before[$1] = $4; next }
    $1 == me || $1 == 2 || $3 == 2 || $2 ~ ours { next }
    { used = $4 - (($1 in before) ? before[$1] : 0); if (used > 0) cpu[$2] += used }
    END {
      for (c in cpu) { pct = 100 * cpu[c] / hz / secs; total += pct; if (pct >= 10) names = names sprintf("%s%s %.0f%%", names == "" ? "" : ", ", c, pct) }
      printf "%.0f%%", total
      if (names != "") printf " (%s)", names
    }' "$out/$1.proc.start" "$out/$1.proc.end")
  printf '   other load during it: %s of %s%% CPU\n' "${OTHER[$1]}" "$((cores * 100))" | tee -a "$load_log"
}

# --- statistics ---------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }

declare -A RATE RMIN RMAX P50 P99 NOTE OTHER
record() { # KEY "rates..." "p50s..." "p99s..." NOTE
  local key=$1 rate_list p50_list p99_list
  read -r -a rate_list <<<"$2"
  read -r -a p50_list <<<"$3"
  read -r -a p99_list <<<"$4"
  RATE[$key]=$(median "${rate_list[@]}")
  RMIN[$key]=$(minimum "${rate_list[@]}")
  RMAX[$key]=$(maximum "${rate_list[@]}")
  P50[$key]=${p50_list[*]:+$(median "${p50_list[@]}")}
  P99[$key]=${p99_list[*]:+$(median "${p99_list[@]}")}
  NOTE[$key]=$5
  printf '   -> median %.0f/s (min %.0f, max %.0f)\n' "${RATE[$key]}" "${RMIN[$key]}" "${RMAX[$key]}"
}

# wrk's latency figures ("850.00us", "1.23ms", "2.00s") in milliseconds.
wrk_ms() { awk -v t="$1" 'BEGIN {
  if (t ~ /us$/) { sub(/us$/, "", t); print t / 1000 }
  else if (t ~ /ms$/) { sub(/ms$/, "", t); print t + 0 }
  else if (t ~ /m$/) { sub(/m$/, "", t); print t * 60000 }
  else if (t ~ /s$/) { sub(/s$/, "", t); print t * 1000 }
  else print t }'; }

# A wrk warm-up, then the measured runs against URL; fails on any non-2xx
# answer or socket error (a request slower than 10 s counts as a timeout).
bench_wrk() { # KEY LABEL URL OURS [wrk args...]
  local key=$1 label=$2 url=$3 ours=$4
  shift 4
  local rates="" p50s="" p99s="" file rate p50 p99 i
  say "$label: wrk -t$wrk_threads -c$connections -d${seconds}s --latency $url"
  echo "   $label: $(load_note)" >>"$load_log"
  sample_start "$key"
  file=$out/$key.warmup.txt
  wrk -t"$wrk_threads" -c"$connections" -d"${warmup}s" --timeout 10s "$@" "$url" >"$file" 2>&1 || die "wrk failed: $file"
  check_wrk "$label (warm-up)" "$file"
  for i in $(seq "$runs"); do
    file=$out/$key.$i.txt
    wrk -t"$wrk_threads" -c"$connections" -d"${seconds}s" --timeout 10s --latency "$@" "$url" >"$file" 2>&1 || die "wrk failed: $file"
    check_wrk "$label" "$file"
    rate=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
    p50=$(wrk_ms "$(awk '$1 == "50%" { print $2 }' "$file")")
    p99=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' "$file")")
    [[ -n "$rate" && -n "$p50" && -n "$p99" ]] || die "cannot read wrk's output: $file"
    printf '   run %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms\n' "$i" "$rate" "$p50" "$p99"
    rates+=" $rate"; p50s+=" $p50"; p99s+=" $p99"
  done
  sample_stop "$key" "$ours"
  record "$key" "$rates" "$p50s" "$p99s" ""
}

check_wrk() { # LABEL FILE
  local bad sock
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$2")
  sock=$(awk '/Socket errors:/ { print }' "$2")
  if [[ -n "$bad" && "$bad" != 0 ]]; then
    cat "$2" >&2
    [[ -f "$out/server.log" ]] && tail -n 20 "$out/server.log" >&2
    die "$1: $bad non-2xx responses (see $2)"
  fi
  if [[ -n "$sock" ]]; then
    cat "$2" >&2
    die "$1: $sock (see $2)"
  fi
}

# --- 1. raw signing ceiling ------------------------------------------------------------
if wants sign; then
  say "raw RS256 signing ceiling: sign_ceiling on $cores threads"
  echo "   raw signing: $(load_note)" >>"$load_log"
  sample_start sign
  rates=""
  for i in $(seq "$runs"); do
    file=$out/sign.$i.txt
    "$sign_bin" "$seconds" "$warmup" "$cores" >"$file" 2>&1 || { cat "$file" >&2; die "sign_ceiling failed"; }
    rate=$(sed -n 's/^signatures_per_second=//p' "$file")
    printf '   run %d: %s\n' "$i" "$(head -n 1 "$file")"
    rates+=" $rate"
  done
  sample_stop sign 'sign_ceiling'
  record sign "$rates" "" "" ""
fi

# --- 2. token floor ----------------------------------------------------------------------
basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
if wants floor; then
  floor_port=$(free_port)
  # Same worker count as the server under test (0: one per core).
  "$floor_bin" "$floor_port" "${PORTCULLIS_SERVER__WORKERS:-0}" >"$out/floor.log" 2>&1 &
  floor_pid=$!
  wait_ready "http://127.0.0.1:$floor_port/health/ready" "$floor_pid" "$out/floor.log"
  bench_wrk floor "token floor (actix + form + josekit sign, no store)" "http://127.0.0.1:$floor_port/oauth/token" \
    'token_floor|wrk' -s "$root/scripts/bench/token.lua" -H "Authorization: Basic $basic"
  stop_pid "$floor_pid"
  floor_pid=""
fi

# --- 3. portcullis on a fresh database ----------------------------------------------
say "portcullis on PostgreSQL: fresh database $bench_db"
psql "$admin_url" -qAtX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null
psql "$admin_url" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $bench_db" >/dev/null
db_created=1
pg_tls=$(psql "$bench_url" -qAtX -c "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)")
echo "   $(psql "$bench_url" -qAtX -c "SELECT split_part(version(), ' on ', 1)") at ${bench_url%%\?*}; TLS on these connections: $pg_tls (the server and pgbench use the same URL)"
port=$(free_port)
base=http://127.0.0.1:$port
mkdir -p "$out/run/data"
(
  cd "$out/run" # no stray ./portcullis.toml
  export PORTCULLIS_DATABASE__URL="$bench_url"
  PORTCULLIS_SECRETS__MASTER_KEY=$(openssl rand -base64 32)
  export PORTCULLIS_SECRETS__MASTER_KEY
  export PORTCULLIS_BOOTSTRAP__CLIENT_ID="$client_id"
  export PORTCULLIS_BOOTSTRAP__CLIENT_SECRET="$client_secret"
  export PORTCULLIS_SERVER__BIND="127.0.0.1:$port"
  export PORTCULLIS_DATA_DIR="$out/run/data"
  # The webhook figure delivers to a receiver on 127.0.0.1.
  export PORTCULLIS_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true
  export PORTCULLIS_LOG__LEVEL="${PORTCULLIS_LOG__LEVEL:-warn}"
  # One client hammers the token endpoint from one address: the rate limits
  # would measure the limiter, not the server (0 = off; override to measure
  # their cost, e.g. PORTCULLIS_RATE_LIMITS__TOKEN_PER_CLIENT=1000000).
  export PORTCULLIS_RATE_LIMITS__TOKEN_PER_ADDRESS="${PORTCULLIS_RATE_LIMITS__TOKEN_PER_ADDRESS:-0}"
  export PORTCULLIS_RATE_LIMITS__TOKEN_PER_CLIENT="${PORTCULLIS_RATE_LIMITS__TOKEN_PER_CLIENT:-0}"
  export PORTCULLIS_RATE_LIMITS__API_PER_CLIENT="${PORTCULLIS_RATE_LIMITS__API_PER_CLIENT:-0}"
  unset RUST_LOG
  exec "$server_bin" serve
) >"$out/server.log" 2>&1 &
server_pid=$!
wait_ready "$base/health/ready" "$server_pid" "$out/server.log"
echo "   listening on $base (pid $server_pid; workers ${PORTCULLIS_SERVER__WORKERS:-default}, pool ${PORTCULLIS_DATABASE__POOL_SIZE:-default}, log ${PORTCULLIS_LOG__LEVEL:-warn})"

get_token() {
  local answer
  answer=$(curl -sS -u "$client_id:$client_secret" -d grant_type=client_credentials "$base/oauth/token") ||
    die "token request failed"
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$answer" | grep . || die "no access token in: $answer"
}
token=$(get_token)
answer=$(curl -sS -X POST "$base/api/users" \
  -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/vnd.api+json' \
  -d "{\"data\":{\"type\":\"user\",\"attributes\":{\"email\":\"$user_email\"}}}") || die "user creation failed"
user_id=$(jq -r '.data.id // empty' <<<"$answer" 2>/dev/null || sed -n 's/.*"data":{[^}]*"id":"\([^"]*\)".*/\1/p' <<<"$answer")
[[ -n "$user_id" ]] || die "no user id in: $answer"
curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$base/api/users/$user_id" || die "GET /api/users/$user_id failed"
echo "   bench user $user_id"

if wants token; then
  bench_wrk token "POST /oauth/token (portcullis)" "$base/oauth/token" \
    'portcullis|postgres|wrk' -s "$root/scripts/bench/token.lua" -H "Authorization: Basic $basic"
fi

# --- 3b. the token endpoint with a trivial pre_token action ---------------------------
if wants action; then
  say "creating a trivial pre_token action"
  token=$(get_token)
  answer=$(curl -sS -X POST "$base/api/actions" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/vnd.api+json' \
    -d '{"data":{"type":"action","attributes":{"name":"bench","trigger":"pre_token","code":"export default async function(event) { return { claims: { tier: \"gold\" } }; }"}}}') ||
    die "action creation failed"
  action_id=$(jq -r '.data.id // empty' <<<"$answer")
  [[ -n "$action_id" ]] || die "no action id in: $answer"
  payload=$(get_token | cut -d. -f2 | tr '_-' '/+')
  while (( ${#payload} % 4 )); do payload+="="; done
  claims=$(base64 -d <<<"$payload" 2>/dev/null || true)
  [[ "$claims" == *'"tier":"gold"'* ]] || die "the action's claim is not in the token: $claims"
  bench_wrk action "POST /oauth/token, trivial pre_token action" "$base/oauth/token" \
    'portcullis|postgres|wrk' -s "$root/scripts/bench/token.lua" -H "Authorization: Basic $basic"
  executions=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/actions/$action_id/executions?page%5Bsize%5D=500" |
    jq -r '[.data[].attributes.outcome] | group_by(.) | map("\(.[0]) \(length)") | join(", ")') || executions="?"
  echo "   last 500 recorded runs by outcome: $executions"
  curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $token" "$base/api/actions/$action_id" ||
    die "cannot delete the bench action"
fi

# --- 4. PostgreSQL primary-key select ceiling -----------------------------------------
if wants pgbench; then
  say "pgbench ceiling: -n -M prepared -c16 -j2 -T$seconds, SELECT * FROM users WHERE id = '<bench user>'"
  echo "   pgbench: $(load_note)" >>"$load_log"
  sample_start pgbench
  printf "SELECT * FROM users WHERE id = '%s';\n" "$user_id" >"$out/select.sql"
  pgbench -n -M prepared -c16 -j2 -T"$warmup" -f "$out/select.sql" "$bench_url" >"$out/pgbench.warmup.txt" 2>&1 ||
    { cat "$out/pgbench.warmup.txt" >&2; die "pgbench failed"; }
  rates="" lats=""
  for i in $(seq "$runs"); do
    file=$out/pgbench.$i.txt
    pgbench -n -M prepared -c16 -j2 -T"$seconds" -f "$out/select.sql" "$bench_url" >"$file" 2>&1 ||
      { cat "$file" >&2; die "pgbench failed"; }
    rate=$(awk '/^tps = / { print $3; exit }' "$file")
    lat=$(awk '/^latency average = / { print $4; exit }' "$file")
    [[ -n "$rate" ]] || die "cannot read pgbench's output: $file"
    printf '   run %d: %.0f selects/s, latency average %s ms\n' "$i" "$rate" "$lat"
    rates+=" $rate"; lats+=" $lat"
  done
  sample_stop pgbench 'pgbench|postgres|portcullis'
  # shellcheck disable=SC2086
  record pgbench "$rates" "" "" "avg $(median $lats) ms"
fi

# --- 5. GET /api/users/:id --------------------------------------------------------------
if wants users; then
  token=$(get_token) # fresh, whatever the token lifetime
  bench_wrk users "GET /api/users/:id (portcullis)" "$base/api/users/$user_id" \
    'portcullis|postgres|wrk' -H "Authorization: Bearer $token"
fi

# --- 6. opaque tokens: introspection, and reads with an opaque bearer token --------------
if wants introspect || wants opaque; then
  say "switching the bench client to opaque tokens"
  token=$(get_token)
  client_uuid=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/clients?page%5Bsize%5D=500" |
    jq -r --arg id "$client_id" '.data[] | select(.attributes.client_id == $id) | .id') || die "cannot list clients"
  [[ -n "$client_uuid" ]] || die "bench client not found"
  curl -fsS -o /dev/null -X PATCH "$base/api/clients/$client_uuid" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/vnd.api+json' \
    -d "{\"data\":{\"type\":\"client\",\"id\":\"$client_uuid\",\"attributes\":{\"token_format\":\"opaque\"}}}" ||
    die "cannot switch the client to opaque tokens"
  opaque=$(get_token)
  [[ "$opaque" != *.* ]] || die "expected an opaque token, got a JWT"
  cat >"$out/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$opaque"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
  active=$(curl -fsS -u "$client_id:$client_secret" -d "token=$opaque" "$base/oauth/introspect" | jq -r .active)
  [[ "$active" == true ]] || die "the opaque token does not introspect as active"
fi
if wants introspect; then
  bench_wrk introspect "POST /oauth/introspect (opaque token)" "$base/oauth/introspect" \
    'portcullis|postgres|wrk' -s "$out/introspect.lua" -H "Authorization: Basic $basic"
fi
if wants opaque; then
  bench_wrk opaque "GET /api/users/:id (opaque bearer token)" "$base/api/users/$user_id" \
    'portcullis|postgres|wrk' -H "Authorization: Bearer $opaque"
fi

# --- 7. webhook delivery throughput --------------------------------------------------
if wants webhooks; then
  say "webhooks: $runs backlogs of $hook_events queued deliveries drained to webhook_sink"
  sink_port=$(free_port)
  "$sink_bin" "$sink_port" >"$out/sink.log" 2>&1 &
  sink_pid=$!
  wait_ready "http://127.0.0.1:$sink_port/count" "$sink_pid" "$out/sink.log"
  token=$(get_token)
  answer=$(curl -fsS -X POST "$base/api/webhooks" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/vnd.api+json' \
    -d "{\"data\":{\"type\":\"webhook\",\"attributes\":{\"name\":\"bench\",\"url\":\"http://127.0.0.1:$sink_port/hook\",\"events\":[\"user.created\"]}}}") ||
    die "cannot create the bench webhook"
  webhook_id=$(jq -r '.data.id' <<<"$answer")
  echo "   webhooks: $(load_note)" >>"$load_log"
  sample_start webhooks
  rates=""
  for i in $(seq "$runs"); do
    before=$(curl -fsS "http://127.0.0.1:$sink_port/count")
    prefix=01JE$(printf '%03d' "$i")
    # The backlog, as append_event would queue it: events and their outbox rows.
    psql "$bench_url" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN;
INSERT INTO events (id, environment_id, event_type, actor, resource_type, resource_id, data, occurred_at)
  SELECT '$prefix' || lpad(g::text, 19, '0'), w.environment_id, 'user.created', 'bench', 'user', '$user_id',
         '{"type":"user","id":"$user_id","attributes":{"email":"$user_email"}}', now() AT TIME ZONE 'UTC'
  FROM generate_series(1, $hook_events) AS g, webhooks AS w WHERE w.id = '$webhook_id';
INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at)
  SELECT '$webhook_id', id, 'pending', 0, occurred_at, occurred_at FROM events WHERE id LIKE '$prefix%';
COMMIT;
SQL
    start=$(date +%s.%N)
    target=$((before + hook_events))
    for _ in $(seq 6000); do
      [[ $(curl -fsS "http://127.0.0.1:$sink_port/count") -ge $target ]] && break
      sleep 0.02
    done
    end=$(date +%s.%N)
    got=$(curl -fsS "http://127.0.0.1:$sink_port/count")
    [[ $got -ge $target ]] || die "the backlog was not drained in 120 s ($((got - before)) of $hook_events)"
    rate=$(awk -v n="$hook_events" -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", n / (b - a) }')
    printf '   run %d: %s events/s (%d deliveries in %.2f s)\n' "$i" "$rate" "$hook_events" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
    rates+=" $rate"
  done
  sample_stop webhooks 'portcullis|postgres|webhook_sink'
  failed=$(psql "$bench_url" -qAtX -c "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'")
  # shellcheck disable=SC2086
  record webhooks "$rates" "" "" "backlog $hook_events, $failed not delivered"
  stop_pid "$sink_pid"
  sink_pid=""
fi

# --- table --------------------------------------------------------------------------------
say "results ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -z "$(git -C "$root" status --porcelain 2>/dev/null)" ]] || echo '+changes'))"
strict_fail=""
fmt_rate() { [[ -n "${RATE[$1]:-}" ]] && printf '%.0f' "${RATE[$1]}" || printf -- '-'; }
fmt_spread() { [[ -n "${RATE[$1]:-}" ]] && printf '%.0f-%.0f' "${RMIN[$1]}" "${RMAX[$1]}" || printf -- '-'; }
fmt_ms() { [[ -n "$1" ]] && printf '%.2f ms' "$1" || printf -- '-'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "-" }'; }
row() { # KEY LABEL CEILING_KEY CEILING_LABEL TARGET_PERCENT
  local key=$1 label=$2 ceiling=$3 ceiling_label=$4 target=$5 pct="-" verdict="" ceil_txt="-"
  [[ -n "${RATE[$key]:-}" ]] || return 0
  if [[ -n "$ceiling" && -n "${RATE[$ceiling]:-}" ]]; then
    ceil_txt="$(fmt_rate "$ceiling")/s $ceiling_label"
    pct="$(percent "${RATE[$key]}" "${RATE[$ceiling]}")%"
    if [[ -n "$target" ]]; then
      if awk -v a="${RATE[$key]}" -v b="${RATE[$ceiling]}" -v t="$target" 'BEGIN { exit !(a >= b * t / 100) }'; then
        verdict=PASS
      else
        verdict=FAIL
        strict_fail=1
      fi
    fi
  fi
  local p99_txt=${NOTE[$key]:--}
  [[ -n "${P99[$key]:-}" ]] && p99_txt=$(fmt_ms "${P99[$key]}")
  printf '%-30s %8s  %-12s %9s  %-13s %-22s %5s  %-7s %-6s %s\n' "$label" "$(fmt_rate "$key")" "$(fmt_spread "$key")" \
    "$(fmt_ms "${P50[$key]:-}")" "$p99_txt" "$ceil_txt" "$pct" "${target:+>= $target%}" "${verdict:--}" "${OTHER[$key]:-none}"
}
{
  printf '%-30s %8s  %-12s %9s  %-13s %-22s %5s  %-7s %-6s %s\n' figure "median/s" "spread" p50 p99 ceiling "%ceil" target result "other load (CPU, of $((cores * 100))%)"
  row sign "raw RS256 signing ($cores threads)" "" "" ""
  row floor "token floor (wrk -c$connections)" sign "raw signing" ""
  row token "POST /oauth/token" floor "token floor" 70
  row token "  (same, vs raw signing)" sign "raw signing" ""
  row action "POST /oauth/token + action" floor "token floor" ""
  row action "  (same, vs no action)" token "no action" ""
  row pgbench "pgbench PK select (-c16)" "" "" ""
  row users "GET /api/users/:id" pgbench "pgbench" 25
  row introspect "POST /oauth/introspect" pgbench "pgbench" ""
  row opaque "GET /api/users/:id, opaque" pgbench "pgbench" ""
  row webhooks "webhooks (events/s delivered)" "" "" ""
  echo
  echo "medians of $runs runs of ${seconds}s (p50/p99: median of the runs' percentiles); spread = min-max of the runs"
  echo "other load: CPU used meanwhile by processes outside the figure (from /proc; >= 10% named), of $((cores * 100))%;"
  echo "before each figure:"
  grep -v 'other load during' "$load_log" | sed 's/^ */  /'
} >"$out/summary.txt" # not a pipeline: row() sets strict_fail
cat "$out/summary.txt"

if [[ -n "$strict_fail" && "${BENCH_STRICT:-}" == 1 ]]; then
  exit 3
fi
