#!/bin/sh
# Stands in for saturn-worker in the `saturn profile` / `saturn library` command tests, so they
# run without libtorch: `info` lists two built-ins; `search` reports a step time that halves with
# each doubling of devices (a comma-separated --devices list).
case "$1" in
  info)
    echo '{"event": "info", "techniques": ["single", "ddp"], "cuda_devices": 0, "torch": "fake", "protocol": 1}' ;;
  search)
    devices=""
    while [ $# -gt 0 ]; do
      [ "$1" = "--devices" ] && devices=$2
      shift
    done
    n=$(echo "$devices" | tr ',' '\n' | wc -l)
    step=$(awk "BEGIN { print 0.8 / $n }")
    echo "{\"event\": \"search_result\", \"feasible\": true, \"params\": {\"grad_accum\": 1}, \"step_s\": $step, \"peak_memory_bytes\": 2000000, \"total_steps\": 50}" ;;
  *)
    echo '{"event": "error", "kind": "config", "message": "fake worker: unsupported command"}'
    exit 2 ;;
esac
