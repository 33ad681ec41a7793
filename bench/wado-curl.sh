#!/usr/bin/env bash
# Server CPU per request and the median wall time of N requests with curl (a C client, so the
# client takes little of the machine's two cores), for one URL against one server process.
#
#   bench/wado-curl.sh N URL SERVER_PID [curl options...]
#   bench/wado-curl.sh 8 "http://127.0.0.1:18080/dicom-web/studies/$STUDY" "$PID" -u admin:pw \
#     -H 'Accept: multipart/related; type="application/dicom"'
#
# CPU is utime + stime of SERVER_PID (all its threads) from /proc, in clock ticks of 10 ms, so
# use N large enough that a request's CPU times N is many ticks. Prints one line:
#   cpu_ms/req=… median_s=…
set -euo pipefail
N=$1; URL=$2; PID=$3; shift 3
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
c0=$(cpu "$PID"); times=()
for _ in $(seq "$N"); do times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$@" "$URL")"); done
c1=$(cpu "$PID")
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "cpu_ms/req=$(( (c1 - c0) * 10 / N )) median_s=$median"
