#!/bin/bash
# 22 M with and without --trace listed, alternating; each run under the big lock.
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}   # (measured with /work/main/.venv/bin/python)
LOCK=${LOCK:-/work/wt/_notes/big.lock}
for i in 1 2; do
  for mode in off listed; do
    out=${TMPDIR:-/tmp}/trace-big-$mode-$i
    rm -rf $out
    extra=""
    [ $mode = listed ] && extra="--trace listed"
    echo "== $mode $i start $(date -u +%H:%M:%S)"
    flock $LOCK env PYTHONPATH=$PWD/src /usr/bin/time -f "%e s wall %U s user %S s sys %M KB" \
      $PYTHON -m scslab run beijing-2020 --set population.size=22000000 --quiet --profile --no-report --out $out $extra 2>&1
    echo "== $mode $i end $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    ls -la $out 2>/dev/null | grep parquet
    rm -rf $out
  done
done
