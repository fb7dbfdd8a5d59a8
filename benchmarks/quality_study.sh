#!/usr/bin/env bash
# Issue 7's quality study: the DCGAN recipe against the best configuration on
# the bedroom photos at 64x64, at 64,000 and 256,000 images seen, scored with
# `keras-gen evaluate` against the 4,000 photos, plus the real-vs-real floor.
# Usage: bash benchmarks/quality_study.sh [OUT_DIR]   (about 2 h on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/quality}
DATA=../shared/data/places365-rooms/bedroom256
KG=.venv/bin/keras-gen
mkdir -p "$OUT"
for c in quality_dcgan quality_best; do
  $KG train training/configs/$c.yaml --set output.work_dir="$OUT/$c" &
done
wait
for epoch in 010 040; do
  for c in quality_dcgan quality_best; do
    $KG evaluate "$OUT/$c/checkpoints/epoch_$epoch.keras" --data "$DATA" \
      --metrics fid,kid,pr --num 4000 --out "$OUT/${c}_e$epoch.json"
  done
done
# The floor: two disjoint halves of the photos (2,000 + 2,000).
$KG evaluate --data "$DATA" --image-size 64 --real-vs-real --metrics fid,kid,pr \
  --num 4000 --out "$OUT/real_vs_real.json"
