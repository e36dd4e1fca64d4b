#!/bin/sh
# A technique written as a shell script, speaking the worker protocol (docs/worker-protocol.md):
# the Trial Runner's tests register it through manifests. Arguments: MODE GPUS DEVICES COUNTER
# (every call appends "DEVICES" to the file COUNTER, so tests can count trials).
mode=$1 gpus=$2 devices=$3 counter=$4
echo "$devices" >> "$counter"
echo "fake technique: mode $mode on $devices" >&2
case "$mode" in
  ok)
    if [ "$gpus" -gt 2 ]; then
      echo '{"event": "search_result", "feasible": false, "reason": "out of memory at every setting tried", "tried": []}'
    else
      step=$(awk "BEGIN { print 0.5 / $gpus }")
      echo '{"event": "log", "text": "unknown events are ignored"}'
      echo "{\"event\": \"search_result\", \"feasible\": true, \"params\": {\"knob\": $gpus}, \"step_s\": $step, \"peak_memory_bytes\": 1000000, \"total_steps\": 40, \"startup_s\": 2, \"eval_s\": 0.5, \"checkpoint_s\": 1}"
    fi ;;
  nofit)
    echo '{"event": "search_result", "feasible": false, "reason": "out of memory at every setting tried", "tried": []}' ;;
  crash)
    echo '{"event": "error", "kind": "internal", "message": "segfault in the fake"}'
    exit 5 ;;
  hang)
    sleep 30 ;;
  silent)
    exit 0 ;;
esac
