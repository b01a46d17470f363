#!/bin/sh
# Runs every fuzz target of the module for FUZZTIME each (default 60s).
# A target fails when it finds an input: go test then writes it to the
# package's testdata/fuzz/<target>/ (keep it there, with the fix). A run
# that ends "context deadline exceeded" without writing one is Go's
# fuzzing coordinator racing its own -fuzztime deadline (golang/go#75804,
# fixed in Go 1.27), not a finding: it is reported and not counted.
set -u
fuzztime=${FUZZTIME:-60s}
failed=0
for file in $(grep -rl --include='*_test.go' '^func Fuzz' .); do
	dir=$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		corpus="$dir/testdata/fuzz/$target"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		out=$(go test "$dir" -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" 2>&1)
		status=$?
		after=$(ls "$corpus" 2>/dev/null | wc -l)
		if [ $status -eq 0 ]; then
			echo "ok    $dir $target"
		elif [ "$after" -eq "$before" ] && echo "$out" | grep -q 'context deadline exceeded'; then
			echo "ok    $dir $target (the coordinator's deadline race, golang/go#75804; no input written)"
		else
			echo "FAIL  $dir $target"
			echo "$out" | tail -30
			failed=1
		fi
	done
done
exit $failed
