#!/usr/bin/env bash
# Issue 14's recipe study on the bedroom photos at 64x64, scored with the
# shipped room features against photos held back from training.
#
# Split (symbolic links, nothing copied): the first 3,000 files of
# bedroom256 (sorted) train, the last 1,000 are held back for evaluation.
# Every recipe runs 40 epochs x 100 steps of 64 (256,000 images seen) with
# checkpoints every 10 epochs (64,000 images = epoch_010), two seeds.
#
# Usage: bash benchmarks/recipe_study.sh [OUT_DIR] [RECIPE ...]
#   recipes: dcgan best best_p1 resnet fastgan (default: all); SEEDS="0 1"
#   to change;
#   `split` only makes the split (other scripts reuse it).
# Then:    python benchmarks/recipe_table.py OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/recipes}
shift || true
RECIPES=${*:-dcgan best best_p1 resnet fastgan}
SEEDS=${SEEDS:-0 1}
SRC=$(realpath ../shared/data/places365-rooms/bedroom256)
KG=.venv/bin/keras-gen

mkdir -p "$OUT/data/train" "$OUT/data/heldout"
if [ -z "$(ls -A "$OUT/data/train")" ]; then
  ls "$SRC" | sort | head -n 3000 | while read -r f; do ln -s "$SRC/$f" "$OUT/data/train/$f"; done
  ls "$SRC" | sort | tail -n 1000 | while read -r f; do ln -s "$SRC/$f" "$OUT/data/heldout/$f"; done
fi
[ "$RECIPES" = split ] && exit 0

# recipe -> config and overrides. Every recipe gets adaptive augmentation
# (ADA, p from 0) except best_p1, the leak experiment: the same as best with
# DiffAugment always on (p = 1), as the quality study ran it.
args_of() {
  case $1 in
    dcgan)   echo "training/configs/quality_dcgan.yaml --set model.augment=translation,cutout" ;;
    best)    echo "training/configs/quality_best.yaml" ;;
    best_p1) echo "training/configs/quality_best.yaml --set model.augment_p=1.0" ;;
    resnet)  echo "training/configs/quality_resnet.yaml" ;;
    fastgan) echo "training/configs/quality_fastgan.yaml" ;;
    *) echo "unknown recipe $1" >&2; exit 2 ;;
  esac
}

for seed in $SEEDS; do
  for r in $RECIPES; do
    run="$OUT/${r}_s$seed"
    # shellcheck disable=SC2046
    nice $KG train $(args_of "$r") --set "data.path=$OUT/data/train" \
      --set "model.seed=$seed" --set "data.seed=$seed" --set "name=${r}_s$seed" \
      --set "output.work_dir=$run" > "$run.log" 2>&1
    for epoch in 010 040; do
      ckpt="$run/checkpoints/epoch_$epoch.keras"
      [ -f "$ckpt" ] || continue
      nice $KG evaluate "$ckpt" --data "$OUT/data/heldout" --metrics fid,kid,pr,flat \
        --num 1000 --kid-subset-size 500 --out "$OUT/${r}_s${seed}_e$epoch.json" \
        >> "$run.log" 2>&1
    done
  done
done
# The floor: held-out photos against themselves in two halves of 500.
nice $KG evaluate --data "$OUT/data/heldout" --image-size 64 --real-vs-real \
  --metrics fid,kid,pr,flat --num 500 --kid-subset-size 250 \
  --out "$OUT/real_vs_real.json" >> "$OUT/floor.log" 2>&1
