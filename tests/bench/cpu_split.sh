# Where a route's CPU goes, per process: runs wrk (2 threads, 32 connections, SECONDS, loopback
# only) on URL with KEY and prints the CPU time each program used meanwhile (user and system, from
# /proc/<pid>/stat, summed by program name: the server, the PostgreSQL backends, ...), per request
# and in all, with the machine's totals. Usage: sh tests/bench/cpu_split.sh URL KEY [SECONDS]
# WRK_SCRIPT=file.lua passes a wrk script (-s), e.g. one that POSTs a body.
# Warm the server first (one short run): a process that starts during the run is not counted.
set -eu
url=$1 key=$2 secs=${3:-10}
case $url in http://127.0.0.1:*) ;; *) echo "cpu_split: loopback URLs only" >&2; exit 2 ;; esac
snap() {
    for p in /proc/[0-9]*; do
        c=$(cat "$p/comm" 2>/dev/null) || continue
        s=$(awk '{print $14, $15}' "$p/stat" 2>/dev/null) || continue
        echo "${p#/proc/} $c $s"
    done | sort
}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
snap > "$t/a"; head -1 /proc/stat > "$t/sa"
wrk -t2 -c32 -d"${secs}s" ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} -H "Authorization: Bearer $key" "$url" > "$t/wrk"
snap > "$t/b"; head -1 /proc/stat > "$t/sb"
r=$(awk '/Requests\/sec/ {print $2}' "$t/wrk")
n=$(awk -v r="$r" -v s="$secs" 'BEGIN {printf "%d", r * s}')
echo "$url: $r r/s over ${secs}s ($n requests); CPU per request, then in all"
# The machine's busy time (user, nice, system, irq, softirq) less what the listed programs used
# is wrk's own (it starts and ends within the run, so it is not listed) and the kernel's.
busy=$(paste "$t/sa" "$t/sb" | awk '{print ($13-$2) + ($14-$3) + ($15-$4) + ($18-$7) + ($19-$8)}')
idle=$(paste "$t/sa" "$t/sb" | awk '{print ($16-$5) + ($17-$6)}')
join "$t/a" "$t/b" | awk -v n="$n" -v busy="$busy" -v idle="$idle" '{u[$2] += $6 - $3; s[$2] += $7 - $4}
    END {for (k in u) if (u[k] + s[k] > 20) {
             printf "  %-16s user %6.1f us  sys %6.1f us   (%.2f s + %.2f s)\n", k, u[k] * 1e4 / n, s[k] * 1e4 / n, u[k] / 100, s[k] / 100
             listed += u[k] + s[k]
         }
         printf "  %-16s %6.1f us                  (%.2f s)\n", "the rest (wrk...)", (busy - listed) * 1e4 / n, (busy - listed) / 100
         printf "  machine idle %.2f s\n", idle / 100}'
