#!/usr/bin/env bash
# The GPU check (issue 20), run by the device tool as ONE call whenever a GPU is lent (bench/gpu/README.md):
#     run(command="bash bench/gpu/check.sh", carry=[".whl"], timeout_s=540)
# 1. parity: G, D, the UNet, SDEdit and inversion on CUDA (fp32 with TF32 off, and bf16) against the CPU;
# 2. speed: inversion image-steps/s at batch 1/8/32 (64 px shipped model, 256 px random weights), batch 8 vs 8
#    single runs, FLOP/s of batch-32 256 px inversion against the bf16 peak, SDEdit images/s, G and UNet img/s;
# 3. load: the app under `bench.load --concurrency 2`, when gradio is importable there (it is not in the device
#    image and too big to carry: then load_skipped.json says so);
# 4. report: $OUT/gpu.json + gpu.md (the README table) and, unless a dry run, bench/results/gpu.json.
# Planned to end by CHECK_HARD_SECONDS (470 s < 8 min). Every knob is an environment variable; CHECK_DRY_RUN=1
# runs the same stages on the CPU with tiny random models in seconds (tests/test_gpu_check.py).
set -uo pipefail
cd "$(dirname "$0")/../.."

: "${OUT:?OUT must name the folder whose files come back}"
PY=${PYTHON:-python3}
WORK=${CHECK_WORK:-/tmp/latent-check}
WHL=${CHECK_WHL_DIR:-.whl}
DRY=${CHECK_DRY_RUN:-0}
HARD=${CHECK_HARD_SECONDS:-470}           # nothing runs past this
PARITY_S=${CHECK_PARITY_SECONDS:-150}     # stage limits (each also cut to what is left before HARD)
SPEED_S=${CHECK_SPEED_SECONDS:-200}
LOAD_S=${CHECK_LOAD_SECONDS:-120}
LOAD_JOBS=${CHECK_LOAD_JOBS:-24}
STEPS=${CHECK_STEPS:-50}
BATCHES=${CHECK_BATCHES:-"1 8 32"}
BIG_RES=${CHECK_BIG_RES:-256}             # the random-weight StyleGAN2's size (1024: config-f at full size)
PEAK=${CHECK_PEAK_TFLOPS:-0}              # 0: the GPU's dense bf16 peak from check.py's table
DEVICE=${CHECK_DEVICE:-cuda}
RESULTS=${CHECK_RESULTS:-bench/results/gpu.json}
FLAGS=()
if [ "$DRY" = 1 ]; then                   # CPU, tiny random models, a few steps: seconds
    DEVICE=cpu STEPS=${CHECK_STEPS_DRY:-2} BATCHES="1 2" BIG_RES=64 RESULTS=${CHECK_RESULTS:-}
    FLAGS=(--dry-run)
fi
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
STAGES="{}"
note() {  # stage exit seconds
    STAGES=$("$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); d[sys.argv[2]] = {"exit": int(sys.argv[3]), "seconds": int(sys.argv[4])}; print(json.dumps(d))' \
        "$STAGES" "$1" "$2" "$3")
}
stage() {  # name limit command…: run under timeout, never past HARD - 15 s
    local name=$1 limit=$2 t0 rc
    shift 2
    limit=$(min "$limit" $(( HARD - 15 - $(elapsed) )))
    if [ "$limit" -lt 5 ]; then echo "== $name: skipped, no time left at $(elapsed)s"; note "$name" 124 0; return; fi
    echo "== $name (limit ${limit}s) at $(elapsed)s"
    t0=$(date +%s)
    timeout -k 5 "$limit" "$@"
    rc=$?
    note "$name" "$rc" $(( $(date +%s) - t0 ))
    echo "== $name: exit $rc at $(elapsed)s"
}

main() {
    echo "== check: $(date -u +%FT%TZ) on $(uname -n); device $DEVICE; dry run $DRY; OUT=$OUT"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    rm -rf "$WORK" && mkdir -p "$WORK/site"
    if [ -f "$WHL/site.tar.xz" ]; then                        # diffusers, unpacked by bench/gpu/pack.py
        "$PY" -c 'import sys, tarfile as t; t.open(sys.argv[1]).extractall(sys.argv[2], **({"filter": "data"} if hasattr(t, "data_filter") else {}))' \
            "$WHL/site.tar.xz" "$WORK/site" || echo "== could not unpack $WHL/site.tar.xz"
    fi
    if compgen -G "$WHL/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" "$WHL"/*.whl \
            || echo "== pip could not install the wheels in $WHL"
    fi
    export PYTHONPATH="$PWD:$WORK/site${PYTHONPATH:+:$PYTHONPATH}"

    # shellcheck disable=SC2086  # BATCHES is a list
    stage parity "$PARITY_S" "$PY" -m bench.gpu.check parity --device "$DEVICE" --out "$WORK" --steps "$STEPS" "${FLAGS[@]}"
    stage speed "$SPEED_S" "$PY" -m bench.gpu.check speed --device "$DEVICE" --out "$WORK" --steps "$STEPS" \
        --batches $BATCHES --big-res "$BIG_RES" --peak-tflops "$PEAK" "${FLAGS[@]}"
    if [ "$DRY" != 1 ] && "$PY" -c 'import gradio, gradio_client' 2>/dev/null; then
        stage load "$LOAD_S" "$PY" -m bench.load --jobs "$LOAD_JOBS" --concurrency 2 --steps 30 --timeout $(( LOAD_S - 30 )) \
            --out "$WORK"
    else
        local why="gradio is not installed here (the device image has none; its wheels do not fit the 64 MiB call)"
        [ "$DRY" = 1 ] && why="dry run"
        "$PY" -c 'import json, sys; print(json.dumps({"skipped": sys.argv[1]}))' "$why" > "$WORK/load_skipped.json"
        echo "== load: skipped ($why)"
    fi
    echo "$STAGES" > "$WORK/stages.json"
    "$PY" -m bench.gpu.check report --work "$WORK" --out "$OUT/gpu.json" "${FLAGS[@]}"
    local rc=$?
    if [ -n "$RESULTS" ] && [ -f "$OUT/gpu.json" ]; then
        mkdir -p "$(dirname "$RESULTS")" && cp "$OUT/gpu.json" "$RESULTS"
    fi
    for name in parity speed; do                              # a failed stage fails the call
        "$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])).get(sys.argv[2], {}).get("exit", 1) != 0)' \
            "$WORK/stages.json" "$name" || { [ "$rc" = 0 ] && rc=3; }
    done
    echo "== done in $(elapsed)s (exit $rc: 0 parity passed and the speed table is written, 3 a stage failed)"
    return "$rc"
}

mkdir -p "$OUT"
main 2>&1 | tee -a "$OUT/check.log"
exit "${PIPESTATUS[0]}"
