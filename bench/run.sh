#!/usr/bin/env bash
# Runs caddy-oauth's benchmarks (see BENCHMARKS.md at the repository root).
#
#   bench/run.sh                 # every benchmark, 4 rounds × 3 s (gate: 20 × 1.5 s), ≈ 10 min
#   bench/run.sh -quick          # 2 rounds × 2 s, scale at 10k/100k, no Go benchmarks (≈ 1.5 min)
#   bench/run.sh -only gate      # one benchmark: gate, issuance, scale, stores, cache, gobench
#   bench/run.sh -h              # every flag
#
# Environment: BENCH_FLAGS is prepended to the flags. Everything listens on
# 127.0.0.1 only; every load run stops by itself; every process started is
# stopped on exit. Results go to bench/results/.
set -euo pipefail
cd "$(dirname "$0")"

bin=$(mktemp -d)
child=
cleanup() {
	if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$bin/bench" ./cmd/bench
# shellcheck disable=SC2086 # BENCH_FLAGS is split on purpose
"$bin/bench" ${BENCH_FLAGS:-} "$@" &
child=$!
wait "$child"
