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
    # Minimising a new input could take longer than the whole run: keep it short.
    # (0x makes Go report "context deadline exceeded" when a new input turns up at the end.)
    run() { go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 20x "$pkg" >"$out" 2>&1; }
    if ! run; then
      # Go's fuzzer sometimes ends with "context deadline exceeded" when a
      # new input turns up as the time runs out; a real failure writes its
      # input under testdata/fuzz. Run such a target once more.
      if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
        echo "fuzz: $target ended at its deadline while minimising; running it again"
        run && continue
      fi
      cat "$out"
      failed=1
    fi
  done
done
exit $failed
