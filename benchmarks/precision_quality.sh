#!/usr/bin/env bash
# Issue 9: does mixed_bfloat16 (train.precision) cost quality? The same
# trainings in float32 and mixed_bfloat16, two seeds each:
#  - GAN: quality_best.yaml for 64,000 images (10 epochs x 100 steps of 64),
#    scored with FID/KID/precision/recall against the 4,000 bedroom photos;
#  - VAE: bedroom_vae.yaml at width 32 for 6 epochs, reconstruction
#    PSNR/SSIM/bits-per-dim on 2,000 living-room photos it never saw.
# Usage: bash benchmarks/precision_quality.sh [OUT_DIR]  (~25 min on 2 cores)
# Table: python benchmarks/precision_table.py OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/precision}
DATA=../shared/data/places365-rooms
KG=.venv/bin/keras-gen
if [ ! -d "$DATA/bedroom256" ]; then
  echo "needs $DATA (see README: Shared data)" >&2
  exit 1
fi
mkdir -p "$OUT"
for precision in float32 mixed_bfloat16; do
  for seed in 0 1; do
    run="$OUT/gan_${precision}_s$seed"
    $KG train training/configs/quality_best.yaml --set train.epochs=10 \
      --set train.precision=$precision --set train.seed=$seed \
      --set output.work_dir="$run" > "$run.log" 2>&1 &
  done
done
wait
for precision in float32 mixed_bfloat16; do
  for seed in 0 1; do
    run="$OUT/gan_${precision}_s$seed"
    $KG evaluate "$run/checkpoints/epoch_010.keras" --data "$DATA/bedroom256" \
      --metrics fid,kid,pr --num 4000 --out "$run.json"
  done
done
for precision in float32 mixed_bfloat16; do
  for seed in 0 1; do
    run="$OUT/vae_${precision}_s$seed"
    $KG train training/configs/bedroom_vae.yaml --set model.width=32 \
      --set train.epochs=6 --set train.precision=$precision \
      --set train.seed=$seed --set output.export_dir=null \
      --set output.work_dir="$run" > "$run.log" 2>&1 &
  done
done
wait
for precision in float32 mixed_bfloat16; do
  for seed in 0 1; do
    run="$OUT/vae_${precision}_s$seed"
    $KG evaluate "$run/model.keras" --data "$DATA/rooms64/living_room" \
      --metrics vae --num 2000 --out "$run.json"
  done
done
