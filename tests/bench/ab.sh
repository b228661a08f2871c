# Alternating A/B of two server binaries on one database (throughput on this VM drifts by a third
# within minutes, so two `make bench` runs apart cannot tell a 10 % change; pairs run seconds apart
# can). Usage: DATABASE_URL=... sh tests/bench/ab.sh BIN_A BIN_B [ROUNDS]
# AB_ENV_A and AB_ENV_B add settings to one side's server, e.g. one binary against itself with
# AB_ENV_B="ALLIED_TEST_MODE=1 ALLIED_BENCH_INLINE_DB=1" (what the worker pool's hand-off costs).
# Both serve the same tenant; each round runs wrk (2 threads, 32 connections, 5 s) on GET by id and
# on a 50-partner list page, against A then B, and prints r/s and non-2xx. Loopback only.
set -eu
a=$1 b=$2 rounds=${3:-8}
: "${DATABASE_URL:?set DATABASE_URL}"
"$a" migrate > /dev/null
key=$("$a" tenant create --name ab 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"]["key"])')
env="ALLIED_LOG=warn ALLIED_WEBHOOK_WORKERS=0 ALLIED_RATE_KEY_PER_SECOND=1000000 ALLIED_RATE_KEY_BURST=1000000
     ALLIED_RATE_TENANT_PER_SECOND=1000000 ALLIED_RATE_TENANT_BURST=1000000 ALLIED_RATE_TENANT_PER_MINUTE=100000000"
env $env ${AB_ENV_A:-} ALLIED_LISTEN=127.0.0.1:18601 "$a" serve > /dev/null 2>&1 & pa=$!
env $env ${AB_ENV_B:-} ALLIED_LISTEN=127.0.0.1:18602 "$b" serve > /dev/null 2>&1 & pb=$!
trap 'kill $pa $pb 2>/dev/null' EXIT
sleep 1
post() { curl -s -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"name":"L","company":"Bench Co","tags":["a"]}' http://127.0.0.1:18601/v1/partners; }
id=$(post | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for i in $(seq 1 50); do post > /dev/null; done
run() { wrk -t2 -c32 -d5s -H "Authorization: Bearer $key" "$1" |
    awk '/Requests\/sec/ {r = $2} /Non-2xx/ {n = $NF} END {printf "%9s %3d", r, n}'; }
echo "round  binary         GET r/s non2xx   list r/s non2xx"
for r in $(seq 1 "$rounds"); do
    for side in A B; do
        port=18601; [ $side = B ] && port=18602
        printf "%5d  %-12s %s  %s\n" "$r" "$side" "$(run http://127.0.0.1:$port/v1/partners/$id)" \
            "$(run "http://127.0.0.1:$port/v1/partners?limit=50")"
    done
done
