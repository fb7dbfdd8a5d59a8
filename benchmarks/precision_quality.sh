#!/usr/bin/env bash
# Issue 9: does mixed_bfloat16 (train.precision) cost quality? The same
# trainings in float32 and mixed_bfloat16, SEEDS seeds each:
#  - GAN: quality_best.yaml (hinge + spectral norm + DiffAugment + EMA) and
#    quality_dcgan.yaml (batch norm, non-saturating loss) for 64,000 images
#    (10 epochs x 100 steps of 64), scored with FID/KID/precision/recall
#    against the 4,000 bedroom photos;
#  - VAE: bedroom_vae.yaml at width 32 for 10 epochs (KL warm-up 300 steps),
#    reconstruction PSNR/SSIM/bits-per-dim on 2,000 living-room photos it
#    never saw;
#  - the demo GAN (demo_gan.yaml, 59,904 procedural rooms seen), scored with
#    FID/KID/precision/recall against 10,000 rooms of another seed.
# Runs are named <config>__<precision>__s<seed>; the trainings of one config
# run side by side (they share the cores, so their times are not compared).
# Usage: [SEEDS="0 1 2"] [GAN_CONFIGS="quality_best quality_dcgan"] [VAE=1] [DEMO=1] \
#        bash benchmarks/precision_quality.sh [OUT_DIR]
# Table: python benchmarks/precision_table.py OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/precision}
DATA=../shared/data/places365-rooms
KG=.venv/bin/keras-gen
SEEDS=${SEEDS:-0 1 2}
GAN_CONFIGS=${GAN_CONFIGS-quality_best quality_dcgan}
VAE=${VAE:-1}
DEMO=${DEMO:-1}
PRECISIONS="float32 mixed_bfloat16"
if [ ! -d "$DATA/bedroom256" ]; then
  echo "needs $DATA (see README: Shared data)" >&2
  exit 1
fi
mkdir -p "$OUT"

# train CONFIG EXTRA_ARGS...: one training per precision and seed, in parallel.
train() {
  local config=$1
  shift
  for precision in $PRECISIONS; do
    for seed in $SEEDS; do
      run="$OUT/${config}__${precision}__s$seed"
      $KG train "training/configs/$config.yaml" "$@" \
        --set train.precision=$precision --set train.seed=$seed \
        --set output.export_dir=null --set output.work_dir="$run" \
        > "$run.log" 2>&1 &
    done
  done
  wait
}

# evaluate CONFIG MODEL_FILE DATA METRICS NUM
evaluate() {
  for precision in $PRECISIONS; do
    for seed in $SEEDS; do
      run="$OUT/${1}__${precision}__s$seed"
      [ -f "$run.json" ] || $KG evaluate "$run/$2" --data "$3" --metrics "$4" \
        --num "$5" --out "$run.json"
    done
  done
}

for config in $GAN_CONFIGS; do
  train $config --set train.epochs=10
  evaluate $config checkpoints/epoch_010.keras "$DATA/bedroom256" fid,kid,pr 4000
done
if [ "$VAE" = 1 ]; then
  train bedroom_vae --set model.width=32 --set train.epochs=10 \
    --set model.kl_warmup_steps=300
  evaluate bedroom_vae model.keras "$DATA/rooms64/living_room" vae 2000
fi
if [ "$DEMO" = 1 ]; then
  train demo_gan --set output.verbose=0
  evaluate demo_gan model.keras rooms fid,kid,pr 10000
fi
