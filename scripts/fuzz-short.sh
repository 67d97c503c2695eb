#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time (FUZZTIME, default 5s),
# so that CI keeps exercising the parsers of untrusted input. A failing
# target's output (with the input that failed, saved under testdata/fuzz) is
# printed.
set -euo pipefail
fuzztime=${FUZZTIME:-5s}
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
  pkg=./$(dirname "${f#./}")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    # Minimisation of a new input can take longer than the whole run: skip it.
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 0x "$pkg" >"$out" 2>&1; then
      cat "$out"
      failed=1
    fi
  done
done
exit $failed
