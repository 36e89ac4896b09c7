#!/usr/bin/env bash
# Accelerator check of the one run engine (run from the repo root on a GPU
# machine with jax[cuda] installed): every task's jitted steps through the CLI,
# load_run/evaluate, the Python-fit tests (bitwise resume after SIGTERM, with
# deterministic GPU kernels), and
# the benchmarks' tables. Logs go to $OUT (default /tmp/jnn-device).
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/jnn-device}
mkdir -p "$OUT"
py=${PYTHON:-python3}
run() {  # run NAME CMD...: time a command, keep its last lines
  local t0 code; t0=$(date +%s%N)
  "${@:2}" > "$OUT/$1.log" 2>&1; code=$?
  echo "== $1: exit $code in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  tail -n 3 "$OUT/$1.log"
}
$py -c "import jax, optax, jnn; print('jax', jax.__version__, 'optax', optax.__version__, jax.devices())"
run mlp $py scripts/train.py configs/mlp_digits.toml --workdir "$OUT/mlp"
run evaluate $py scripts/evaluate.py "$OUT/mlp" --split test
run cnn $py scripts/train.py configs/cnn_digits.toml --workdir "$OUT/cnn" --set train.epochs=30
run lstm $py scripts/train.py configs/lstm_digits.toml --workdir "$OUT/lstm" --set train.epochs=5
run gan $py scripts/train.py configs/gan_ring.toml --workdir "$OUT/gan" --set train.steps=1000 --set train.eval_every=500
run fit_tests env XLA_FLAGS=--xla_gpu_deterministic_ops=true $py -m pytest -q -n 0 -p no:cacheprovider tests/train/test_fit_python.py tests/gan/test_gan_engine.py
run bench_loop $py benchmarks/train_loop.py
run bench_rnn $py benchmarks/rnn_unroll.py
run bench_suite $py benchmarks/suite.py --quick --json "$OUT/suite.json"
cat "$OUT/bench_loop.log" "$OUT/bench_rnn.log" "$OUT/bench_suite.log"
