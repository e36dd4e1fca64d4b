#!/bin/sh
# A technique's `execute` written as a shell script, speaking the worker protocol: the executor's
# tests run it instead of real training. Arguments: MODE CHECKPOINT_DIR GPUS STEPS SECONDS_PER_STEP
# [EVERY] (seconds per step on one device; GPUS devices divide it). The checkpoint is the last
# line of CHECKPOINT_DIR/step, written every EVERY steps (default 1) with a `checkpoint` event.
# SIGTERM: checkpoint, `stopped`, exit 10.
# Modes: ok; garbled (also prints an event with fields of the wrong type); crash-once (SIGKILLs
# itself at step 5 the first time); crash (exits 5 two steps after every start); on one device
# only, two steps after every start: oom-event (an `oom` error event, then exit 5) and oom-exit
# (exit 4, the protocol's out-of-memory code, without an event); config-error (a `config` error
# event and exit 2 at once, as a bad job gives); slow-start (3 s before it handles SIGTERM).
# The executor signals the whole process group, so a command this script ran in its loop would
# get the SIGTERM too (a killed awk leaves an event without its loss, a killed mv a stale
# checkpoint): from `started` on, the loop runs shell builtins only, but for `sleep`, which a
# SIGTERM only cuts short. The checkpoint is appended to (one line per step, the last one
# counts), so a SIGKILL in the middle of a write leaves the steps before it.
mode=$1 dir=$2 gpus=$3 total=$4 per_step=$5 every=${6:-1}
mkdir -p "$dir"
step=0
[ -f "$dir/step" ] && step=$(tail -n 1 "$dir/step")
[ -n "$step" ] || step=0
first=$step
resumed=false
[ "$step" -gt 0 ] && resumed=true
stop=0
[ "$mode" = slow-start ] && sleep 3  # a SIGTERM now ends it: no handler yet, as a worker starting up
trap 'stop=1' TERM
# decimal N: sets `dec` to N thousandths as a decimal number (1234 -> 1.234), without a fork.
decimal() {
  frac=$(($1 % 1000))
  if [ "$frac" -lt 10 ]; then frac=00$frac; elif [ "$frac" -lt 100 ]; then frac=0$frac; fi
  dec="$(($1 / 1000)).$frac"
}
loss=0
sleep_s=$(awk "BEGIN { print $per_step / $gpus }")
if [ "$mode" = config-error ]; then
  echo '{"event": "error", "kind": "config", "message": "the fake trainer rejects this job"}'
  exit 2
fi
echo "{\"event\": \"started\", \"step\": $step, \"total_steps\": $total, \"resumed\": $resumed, \"world_size\": $gpus}"
[ "$mode" = garbled ] && echo '{"event": "step", "step": "three", "loss": null}'
while [ "$step" -lt "$total" ]; do
  if [ "$stop" = 1 ]; then
    echo "$step" >> "$dir/step"
    echo "{\"event\": \"stopped\", \"step\": $step}"
    exit 10
  fi
  sleep "$sleep_s"
  step=$((step + 1))
  if [ $((step % every)) = 0 ]; then
    echo "$step" >> "$dir/step"
    echo "{\"event\": \"checkpoint\", \"step\": $step}"
  fi
  decimal $(((10000 + step / 2) / step)) && loss=$dec
  echo "{\"event\": \"step\", \"step\": $step, \"loss\": $loss, \"step_s\": $sleep_s}"
  if [ "$mode" = crash-once ] && [ "$step" = 5 ] && [ ! -f "$dir/crashed" ]; then
    touch "$dir/crashed"
    kill -9 $$
  fi
  if [ "$mode" = oom-event ] && [ "$gpus" = 1 ] && [ "$step" = $((first + 2)) ]; then
    echo '{"event": "error", "kind": "oom", "message": "the fake trainer needs two devices"}'
    exit 5
  fi
  [ "$mode" = oom-exit ] && [ "$gpus" = 1 ] && [ "$step" = $((first + 2)) ] && exit 4
  if [ "$mode" = crash ] && [ "$step" = $((first + 2)) ]; then
    echo '{"event": "error", "kind": "internal", "message": "the fake trainer always fails"}'
    exit 5
  fi
done
if [ $((step % every)) != 0 ]; then
  echo "$step" >> "$dir/step"
  echo "{\"event\": \"checkpoint\", \"step\": $step}"
fi
decimal $(((10000 + step / 2) / (step > 0 ? step : 1) + 100))
echo "{\"event\": \"eval\", \"step\": $step, \"loss\": $dec}"
echo "{\"event\": \"done\", \"step\": $step, \"total_steps\": $total, \"loss\": $loss}"
