#!/usr/bin/env python3
# torch-ddp: a Saturn parallelism technique written in plain PyTorch, registered through the
# Parallelism Library (docs/running.md#the-parallelism-library) rather than built into
# saturn-worker. It speaks the worker protocol (docs/worker-protocol.md): `search` measures its
# settings for a job on N devices and prints a `search_result`; `execute` trains the job with
# torch.nn.parallel.DistributedDataParallel (one process per device: Gloo on CPUs, NCCL on GPUs),
# prints started/step/eval/checkpoint/done events, resumes from the newest intact checkpoint and,
# on SIGTERM or SIGINT, checkpoints, prints `stopped` and exits 10.
#
# What it trains (a subset of saturn-worker's): GPT-2 models of the zoo (gpt2, gpt2-medium,
# gpt2-large, gpt2-xl, gpt2-4b, gpt2-tiny, gpt2-mini) on language data: `text` read with the
# `bytes` tokenizer, `tokens` (uint16 ids) or `synthetic-text`. Any other model, data format or
# tokenizer is a `config` error. Samples, their order and each step's batch follow
# docs/worker.md#data exactly, and checkpoints use saturn-worker's format and parameter names
# (docs/worker-protocol.md#checkpoints), so a job may move between this technique and the
# built-in ones and resume from their checkpoints. The checksums file needs the `xxhash` package
# (Debian: python3-xxhash); without it checkpoints are written without one and resumed
# unverified.
#
# Processes: with several devices and no RANK in the environment it starts one rank per device
# itself (they meet through a file store in a private directory); under torchrun (RANK set) each
# process is one rank, its device devices[LOCAL_RANK] (`--devices cuda` alone: cuda:LOCAL_RANK).
#
#   python3 torch_ddp.py search  --job JOB.json --devices cpu:0,cpu:1
#   python3 torch_ddp.py execute --job JOB.json --devices cpu --checkpoint ck --checkpoint-every 20
#   torchrun --standalone --nproc_per_node=4 torch_ddp.py execute --job JOB.json --devices cuda ...
#
# The manifest (torch-ddp.yaml) lets it start its own ranks: sent SIGTERM, torchrun exits 1 even
# after its ranks checkpointed and exited 10. Debian's torchrun (1.13 on Python 3.11) needs
# `--redirects 2 --tee 2` to start at all.
#
# Needs PyTorch >= 1.13 (Debian's python3-torch works on the CPU) and NumPy.
#
# This file only starts the program: the code is the package ddp/ next to it (its __init__.py
# lists the modules). Python puts this file's directory on sys.path when it runs the file, so
# `ddp` is found from any working directory, and the ranks it starts run this same file.
import os
import sys

from ddp.main import main

if __name__ == "__main__":
    code = main(sys.argv[1:], os.path.abspath(__file__))
    # Every event and checkpoint is written by now. Leave without the interpreter's teardown:
    # torch 1.13's Gloo process group can deadlock while it is destroyed (its worker thread waits
    # for the GIL the main thread holds while joining it), which would leave a rank that printed
    # `done` running forever. So the group and DDP's reducer are never destroyed
    # (ddp/ranks.py hold_until_exit) and the process ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)
