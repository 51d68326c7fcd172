#!/usr/bin/env bash
# One GPU training burst, run by the device tool as ONE call (bench/gpu/README.md):
#     run(command="bash bench/gpu/train_burst.sh", carry=[".data", ".whl"], timeout_s=600)
# Installs the carried wheels, trains StyleGAN2 then the DDPM (bf16 autocast on CUDA) on the packed
# photos for a wall-clock budget each, and leaves in $OUT: burst.log, summary.json (throughput, GPU,
# peak memory, losses) and burst.tar.partNN (fp16 checkpoints, logs, grids, compact states; each part
# < 16 MiB). Planned to end by BURST_PLAN_SECONDS (530 s) and never to run past BURST_HARD_SECONDS
# (575 s), whatever a stage does. Every knob is an environment variable, so the CPU test
# (tests/test_gpu_burst.py) runs the very same script for a few seconds.
set -uo pipefail
cd "$(dirname "$0")/../.."

: "${OUT:?OUT must name the folder whose files come back}"
PY=${PYTHON:-python3}
WORK=${BURST_WORK:-/tmp/latent-burst}
PACK=${BURST_PACK:-.data/cats64.npz}
WHL=${BURST_WHL_DIR:-.whl}
DEVICE=${BURST_DEVICE:-auto}
STAGES=${BURST_STAGES:-gan ddpm}
GAN_S=${BURST_GAN_SECONDS:-270}           # training budgets (wall clock of the training loop)
DDPM_S=${BURST_DDPM_SECONDS:-200}
GAN_BATCH=${BURST_GAN_BATCH:-256}
DDPM_BATCH=${BURST_DDPM_BATCH:-256}
GAN_FROM=${BURST_GAN_FROM:-auto}          # auto | scratch | a model or run folder (see bench/gpu/burst.py)
DDPM_FROM=${BURST_DDPM_FROM:-auto}
GAN_SET=${BURST_GAN_OVERRIDES:-"{}"}      # JSON training settings, e.g. '{"r1_gamma": 0.1}'
DDPM_SET=${BURST_DDPM_OVERRIDES:-"{}"}
PLAN=${BURST_PLAN_SECONDS:-530}           # the stages are planned to be done by then
HARD=${BURST_HARD_SECONDS:-575}           # nothing runs past this (the tool allows 600)
RESERVE=${BURST_PACKAGE_SECONDS:-30}      # kept for packing the results
EXPECT=${BURST_STAGE_OVERHEAD:-30}        # a stage's start-up + final snapshot, for planning
SLACK=${BURST_STAGE_SLACK:-90}            # how far past its budget a stage may run before TERM
LOG_EVERY=${BURST_LOG_EVERY:-20}          # steps per log.jsonl line
PART_BYTES=${BURST_PART_BYTES:-15728640}  # 15 MiB parts (the tool brings back files up to 16 MiB)
SNAPSHOT=${BURST_SNAPSHOT_SECONDS:-0}      # mid-run snapshot period (0: once, at half the budget)
export PYTHONUNBUFFERED=1 TQDM_DISABLE=${TQDM_DISABLE:-1}   # progress is in log.jsonl; keep burst.log short

# A plan past the hard end would have the last stage killed before its final snapshot (seen on 2026-12-04 with
# PLAN 335, HARD 362): a stage is killed at HARD - RESERVE - 10, so the plan ends 5 s before that.
[ "$PLAN" -gt $(( HARD - RESERVE - 15 )) ] && PLAN=$(( HARD - RESERVE - 15 ))
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
has() { case " $STAGES " in *" $1 "*) return 0;; *) return 1;; esac; }

run_stage() {  # kind budget batch from overrides → exit code in STATUS_<kind>
    local kind=$1 budget=$2 batch=$3 from=$4 set=$5 limit rc
    limit=$(min $(( budget + SLACK )) $(( HARD - RESERVE - 10 - $(elapsed) )))
    if [ "$budget" -lt 1 ] || [ "$limit" -lt 5 ]; then
        echo "== $kind: skipped, no time left (budget ${budget}s, limit ${limit}s) at $(elapsed)s"
        return 0
    fi
    echo "== $kind: ${budget}s at batch $batch from $from (killed after ${limit}s) at $(elapsed)s"
    timeout -k 10 "$limit" "$PY" -m bench.gpu.burst "$kind" --pack "$PACK" --out "$WORK/$kind" \
        --seconds "$budget" --batch "$batch" --from "$from" --device "$DEVICE" --overrides "$set" --log-every "$LOG_EVERY" \
        --snapshot-seconds "$SNAPSHOT"
    rc=$?
    printf -v "STATUS_$kind" '%s' "$rc"
    echo "== $kind: exit $rc at $(elapsed)s"
}

main() {
    echo "== burst: $(date -u +%FT%TZ) on $(uname -n); stages: $STAGES; OUT=$OUT"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    rm -rf "$WORK" && mkdir -p "$WORK/site"
    if [ -f "$WHL/site.tar.xz" ]; then                        # unpacked wheels (bench/gpu/pack.py); Python's
        "$PY" -c 'import sys, tarfile as t; t.open(sys.argv[1]).extractall(sys.argv[2], **({"filter": "data"} if hasattr(t, "data_filter") else {}))' \
            "$WHL/site.tar.xz" "$WORK/site" || echo "== could not unpack $WHL/site.tar.xz"   # lzma, no xz needed
    fi
    if compgen -G "$WHL/*.whl" >/dev/null; then               # or plain wheels, as the device README says
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" "$WHL"/*.whl \
            || echo "== pip could not install the wheels in $WHL"
    fi
    export PYTHONPATH="$PWD:$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
    echo "== site: $(ls "$WORK/site" | tr '\n' ' ') at $(elapsed)s"
    [ -f "$PACK" ] || echo "== no data pack at $PACK: run python -m bench.gpu.pack first (the stages will fail)"

    local smi=""
    if command -v nvidia-smi >/dev/null; then                 # GPU load every 2 s: does the batch fill it?
        nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv,noheader,nounits \
            -l 2 > "$WORK/gpu_util.csv" 2>/dev/null &
        smi=$!
    fi

    STATUS_gan="" STATUS_ddpm=""
    if has gan; then
        echo "== gan starts at $(date -u +%FT%TZ)"
        local want=0
        has ddpm && want=$(( DDPM_S + EXPECT ))
        run_stage gan "$(min "$GAN_S" $(( PLAN - $(elapsed) - EXPECT - want )))" "$GAN_BATCH" "$GAN_FROM" "$GAN_SET"
    fi
    if has ddpm; then
        echo "== ddpm starts at $(date -u +%FT%TZ)"
        run_stage ddpm "$(min "$DDPM_S" $(( PLAN - $(elapsed) - EXPECT )))" "$DDPM_BATCH" "$DDPM_FROM" "$DDPM_SET"
    fi

    [ -n "$smi" ] && kill "$smi" 2>/dev/null
    local limit=$(( HARD - $(elapsed) ))
    [ "$limit" -lt 10 ] && limit=10
    echo "== package at $(elapsed)s (killed after ${limit}s)"
    timeout -k 5 "$limit" "$PY" -m bench.gpu.burst package --work "$WORK" --out "$OUT" \
        --status "gan=$STATUS_gan" --status "ddpm=$STATUS_ddpm" --script-seconds "$(elapsed)" --part-bytes "$PART_BYTES"
    local rc=$?
    for kind in $STAGES; do                                   # a failed or skipped stage fails the call
        local var="STATUS_$kind"
        [ "${!var:-}" = 0 ] || { [ "$rc" = 0 ] && rc=3; }
    done
    echo "== done in $(elapsed)s (exit $rc: 0 all stages trained and packed, 3 a stage failed or was skipped)"
    ls -l "$OUT"
    return $rc
}

mkdir -p "$OUT"
main 2>&1 | tee -a "$OUT/burst.log"
exit "${PIPESTATUS[0]}"
