# The torch-ddp technique's modules; torch_ddp.py (next to this directory) is the program that
# runs them. Nothing here imports torch or NumPy at import time: the launcher process and
# configuration errors never load them (the training code is handed `torch` and `np`).
#
#   protocol     events on stdout, exit codes, Failure, stop signals, process age and memory
#   arguments    the command line: commands, options, --devices and --params
#   jobfile      the job of a workload file, checked (docs/formats.md#workload)
#   data         token samples, their order and each step's batch (docs/worker.md#data)
#   model        the zoo's GPT-2 models and saturn-worker's flat parameter order
#   checkpoints  saturn-worker's checkpoint format: safetensors, checksums, retention, rejection
#   ranks        starting one process per device, and each process's rank and process group
#   trainer      one rank's model, optimizer, training step, evaluation, save and restore
#   execute      the `execute` command: the training loop and its events
#   search       the `search` and `measure` commands: timing settings
#   main         dispatch of a command line, and every failure as an `error` event
