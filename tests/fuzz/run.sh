#!/bin/sh
# `make fuzz`: runs each libFuzzer harness named on the command line for FUZZ_SECONDS on its
# checked-in seeds (tests/fuzz/seeds/<harness>/, read-only) plus a local working corpus
# ($FUZZ_BUILD/corpus/<harness>/, kept between runs). A crash, leak, sanitizer report, timeout
# or broken invariant fails the harness; its input is saved under $FUZZ_BUILD/artifacts/.
# Reproduce one with `$FUZZ_BUILD/<harness> <file>`. FUZZ_SECONDS=0 only replays the seeds and
# the working corpus (a quick regression run). Last line: N passed, N failed.
set -u
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-20}
case "$secs" in ''|*[!0-9]*) echo "FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac
# libFuzzer reads -max_total_time=0 as "no limit"; 0 here means: run each input once.
if [ "$secs" -eq 0 ]; then budget="-runs=0"; else budget="-max_total_time=$secs"; fi
passed=0
failed=0
mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/logs"
for h in "$@"; do
  corpus="$FUZZ_BUILD/corpus/$h"
  log="$FUZZ_BUILD/logs/$h.log"
  mkdir -p "$corpus"
  # -max_len bounds the inputs (request heads and bodies we care about are small); -timeout
  # catches hangs; leaks are reported (ASan's leak checker runs at the end of each input).
  if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1" UBSAN_OPTIONS="print_stacktrace=1" \
     "$FUZZ_BUILD/$h" "$budget" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$h-" \
       "$corpus" "tests/fuzz/seeds/$h" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "ok   fuzz $h: ${runs:-?} inputs in ${secs}s, $cov"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz $h (log $log; inputs in $FUZZ_BUILD/artifacts/):"
    grep -v '^#' "$log" | tail -40
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
