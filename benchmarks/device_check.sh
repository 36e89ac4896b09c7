#!/usr/bin/env bash
# Accelerator check of the one run engine (run from the repo root on a GPU
# machine with jax[cuda] installed): the benchmark suite's table first, then
# every task's jitted steps through the CLI (float32 and bfloat16, per-step and
# fused), load_run/evaluate, and the Python-fit tests (bitwise resume after
# SIGTERM, with deterministic GPU kernels). Logs go to $LOGS (default
# /tmp/jnn-device).
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
LOGS=${LOGS:-/tmp/jnn-device}
mkdir -p "$LOGS"
py=${PYTHON:-python3}
run() {  # run NAME CMD...: time a command, keep its last lines
  local t0 code; t0=$(date +%s%N)
  "${@:2}" > "$LOGS/$1.log" 2>&1; code=$?
  echo "== $1: exit $code in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  tail -n 3 "$LOGS/$1.log"
}
train() {  # train NAME CONFIG [--set ...]: a CLI run into $LOGS/runs/NAME
  run "$1" $py scripts/train.py "$2" --workdir "$LOGS/runs/$1" "${@:3}"
}
$py -c "import jax, optax, jnn; print('jax', jax.__version__, 'optax', optax.__version__, jax.devices())"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
run bench_suite $py benchmarks/suite.py --json "$LOGS/suite.json"
cat "$LOGS/bench_suite.log"
run bench_pipeline $py benchmarks/pipeline.py
cat "$LOGS/bench_pipeline.log"
train mlp configs/mlp_digits.toml
run evaluate $py scripts/evaluate.py "$LOGS/runs/mlp" --split test
train mlp_fused configs/mlp_digits.toml --set train.fuse_steps=16
train mlp_bf16 configs/mlp_digits.toml --set train.precision=bfloat16
train mlp_f16 configs/mlp_digits.toml --set train.precision=float16
train cnn configs/cnn_digits.toml
train cnn_bf16 configs/cnn_digits.toml --set train.precision=bfloat16
train cnn_f16 configs/cnn_digits.toml --set train.precision=float16
train lstm configs/lstm_digits.toml
train vit configs/vit_digits.toml
train char_transformer configs/char_transformer.toml
train gan configs/gan_ring.toml
train dcgan_2000 configs/gan_digits.toml --set gan.architecture=dcgan --set train.steps=2000 --set train.eval_every=1000
run fit_tests env XLA_FLAGS=--xla_gpu_deterministic_ops=true $py -m pytest -q -n 0 -p no:cacheprovider tests/train/test_fit_python.py tests/gan/test_gan_engine.py
run bench_rnn $py benchmarks/rnn_unroll.py
cat "$LOGS/bench_rnn.log"
