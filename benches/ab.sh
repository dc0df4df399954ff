#!/usr/bin/env bash
# Compares two builds of the ingest bench at the same moments of a machine
# whose speed drifts: runs both at once, each on a fresh database of the
# same server with the same senders, starts their measured phases together
# (--start-file) and stops both after the same number of seconds
# (--seconds), so both see the same machine throughout; repeats, and prints
# each round's rates, the ratio B/A, and the geometric mean of the ratios.
#
#   benches/ab.sh BIN_A BIN_B [ROUNDS [SECONDS [extra ingest arguments...]]]
#
# BIN_A and BIN_B are ingest binaries (cargo build --release -p
# inbox-benches --bin ingest, copied aside for each build); they may be the
# same binary with different settings: A_ARGS and B_ARGS add arguments to
# one side only (A_ARGS="--committers 3", say). DATABASE_URL names the
# server (default postgres://postgres@127.0.0.1:5432/postgres). Each side's
# pool has 32 connections (--connections; with group commit's own, about 40
# a side), so that both fit in PostgreSQL's default 100: when the server
# refuses connections, sqlx keeps trying to open one until its acquire
# timeout instead of taking one freed meanwhile, and both runs crawl.
set -euo pipefail
a=$1 b=$2 rounds=${3:-5} secs=${4:-15}
shift $(( $# < 4 ? $# : 4 ))
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ratios=()
for r in $(seq 1 "$rounds"); do
    rm -f "$dir/go" "$dir"/*.err
    # One after the other up to their start line (each seeds its own
    # database while the other waits), then both at once.
    for side in a b; do
        bin=$a extra=${A_ARGS:-}
        [ "$side" = b ] && bin=$b extra=${B_ARGS:-}
        # shellcheck disable=SC2086 # extra holds several arguments
        "$bin" --store postgres --database-url "$url" --messages 100000 --concurrency 128 --connections 32 \
            --start-file "$dir/go" --seconds "$secs" $extra "$@" >"$dir/$side.out" 2>"$dir/$side.err" &
        echo $! >"$dir/$side.pid"
        until grep -q "waiting for" "$dir/$side.err" 2>/dev/null; do
            if ! kill -0 "$(cat "$dir/$side.pid")" 2>/dev/null; then
                echo "$side stopped before its measured phase:" >&2
                cat "$dir/$side.err" >&2
                exit 1
            fi
            sleep 0.2
        done
    done
    touch "$dir/go"
    for side in a b; do
        if ! wait "$(cat "$dir/$side.pid")"; then
            echo "round $r: $side failed:" >&2
            tail -5 "$dir/$side.err" >&2
            exit 1
        fi
    done
    ra=$(grep -o 'msgs_per_s=[0-9]*' "$dir/a.out" | cut -d= -f2)
    rb=$(grep -o 'msgs_per_s=[0-9]*' "$dir/b.out" | cut -d= -f2)
    ratio=$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.3f", b / a }')
    ratios+=("$ratio")
    echo "round $r: A $ra msgs/s, B $rb msgs/s, B/A $ratio"
done
printf '%s\n' "${ratios[@]}" | awk '{ s += log($1); n++ } END { printf "geometric mean B/A over %d rounds: %.3f\n", n, exp(s / n) }'
