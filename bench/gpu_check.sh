#!/usr/bin/env bash
# The GPU path, proven on a machine with a CUDA GPU, in under 8 minutes:
#   1. the `gpu` tests: every sharing scheme x (equal, pcgrad) on CUDA, batched replicas on
#      CUDA equal to separate CUDA runs (tests/unit/test_replicas_gpu.py);
#   2. bench_seeds.py --device cuda --ks 1 10 (the aim: K = 10 in under 1.5x K = 1's time);
#   3. bench_loader.py --device cuda;
#   4. a 20-epoch `mtae train` on CUDA into a scratch store;
# then one summary: each step's status and seconds.
#
#   bash bench/gpu_check.sh            # PY=path/to/python to choose the interpreter
#
# Without CUDA it says so and exits 0 having run nothing (this project's own machine has no
# GPU: these checks were written there and have not yet run on a GPU).
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False): nothing run."
    echo "Run it on a machine with a CUDA GPU; the gpu tests are skipped without one."
    exit 0
fi

OUT=${OUT:-$(mktemp -d)}
STORE=$(mktemp -d)
trap 'rm -rf "$STORE"' EXIT
declare -a NAMES STATUS SECS
step() {  # step NAME TIMEOUT COMMAND...
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS log="$OUT/$name.log"
    echo "== $name (at most ${limit}s): $*"
    timeout "$limit" "$@" >"$log" 2>&1
    local rc=$?
    tail -n 25 "$log"
    NAMES+=("$name"); SECS+=($((SECONDS - t0)))
    if [ $rc -eq 0 ]; then STATUS+=("ok"); elif [ $rc -eq 124 ]; then STATUS+=("TIMEOUT"); else STATUS+=("FAILED ($rc)"); fi
}

"$PY" -c 'import torch; print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)'

step gpu-tests 200 env MTAE_HOME="$STORE" "$PY" -m pytest -q -p no:cacheprovider -m gpu \
    tests/unit/test_replicas_gpu.py
step bench-seeds 120 "$PY" bench/bench_seeds.py --device cuda --ks 1 10
step bench-loader 60 "$PY" bench/bench_loader.py --device cuda

CFG="$STORE/train.json"
"$PY" - "$CFG" <<'EOF'
import sys
from mtae_core import ExperimentConfig
cfg = ExperimentConfig().replace(name="gpu check", data={"dataset": "digits"},
                                 training={"epochs": 20, "device": "cuda"})
open(sys.argv[1], "w").write(cfg.to_json())
EOF
step mtae-train 60 env MTAE_HOME="$STORE" "$PY" -m mtae_core.cli train --quiet --json "$CFG"

echo
echo "== gpu_check summary ($(date -u +%FT%TZ), logs in $OUT)"
fail=0
for i in "${!NAMES[@]}"; do
    printf '  %-13s %-12s %4ss\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}"
    [ "${STATUS[$i]}" = ok ] || fail=1
done
grep -E "passed|failed|skipped" "$OUT/gpu-tests.log" | tail -n 1 | sed 's/^/  gpu tests: /'
grep -E "^ +(1|10) " "$OUT/bench-seeds.log" | sed 's/^/  seeds: /'
grep -o '"status": *"[a-z]*"' "$OUT/mtae-train.log" | head -n 1 | sed 's/^/  mtae train: /'
echo "  total ${SECONDS}s (budget 480s)"
exit $fail
