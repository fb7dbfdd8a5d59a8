#!/usr/bin/env bash
# How the shipped presets were made: splits, training, evaluation, publishing.
# Re-run a stage with: bash benchmarks/presets.sh STAGE [PRESET ...]
#   STAGE: train | evaluate | publish | picture
#   PRESET: procedural_gan_64 rooms_denoiser bedroom_gan_64 bedroom_vae_64 rooms_cgan_64
# Real photos are read from ../shared (places365-rooms: non-commercial licence);
# splits are symbolic links (nothing copied). Figures land in runs/presets/.
# `python benchmarks/preset_figures.py` re-runs each recorded evaluation
# command and compares with the record.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:?train|evaluate|publish}
shift
PRESETS=${*:-procedural_gan_64 rooms_denoiser bedroom_gan_64 bedroom_vae_64 rooms_cgan_64}
KG=.venv/bin/keras-gen
OUT=runs/presets
mkdir -p "$OUT"
CGAN_EPOCH=012  # the published checkpoint of runs/cgan_warm
PLACES="Places365 (places365-rooms subset), non-commercial research and education only"

# rooms64/bedroom sorted: first 3,300 train, next 200 validation, last 500 test.
split_bedroom64() {
  local src d=runs/denoise_data
  src=$(realpath ../shared/data/places365-rooms/rooms64/bedroom)
  [ -d $d/test ] && return
  mkdir -p $d/train $d/val $d/test
  ls "$src" | sort | head -n 3300 | while read -r f; do ln -s "$src/$f" $d/train/; done
  ls "$src" | sort | sed -n 3301,3500p | while read -r f; do ln -s "$src/$f" $d/val/; done
  ls "$src" | sort | tail -n 500 | while read -r f; do ln -s "$src/$f" $d/test/; done
}

# The denoiser's training photos: the 3,300 train bedrooms above and every
# photo of the five other rooms64 types (23,271 in all); the validation and
# test bedrooms stay out.
split_rooms64_all() {
  local rooms d=runs/denoise_data/train_all t f
  rooms=$(realpath ../shared/data/places365-rooms/rooms64)
  [ -d $d ] && return
  mkdir -p $d
  for f in runs/denoise_data/train/*; do ln -s "$(readlink -f "$f")" "$d/bedroom_${f##*/}"; done
  for t in bathroom dining_room entrance_hall kitchen living_room; do
    for f in "$rooms/$t"/*; do ln -s "$f" "$d/${t}_${f##*/}"; done
  done
}

# The recipe study's bedroom256 split (sorted: first 3,000 train, last 1,000
# held out), made by benchmarks/recipe_study.sh.
RECIPE_DATA=runs/recipes/data

# The VAE's anomaly data: held-out bedroom256 photos 3,001-3,500 (threshold)
# and 3,501-4,000 (test normal), written as rooms64 was made; the last 500
# photos of every other rooms64 type (test anomalies).
split_vae() {
  local d=runs/vae_data rooms t
  rooms=$(realpath ../shared/data/places365-rooms/rooms64)
  [ -d $d/test/bedroom_cutout ] && return
  [ -d $RECIPE_DATA/heldout ] || bash benchmarks/recipe_study.sh runs/recipes split
  ls $RECIPE_DATA/heldout/* | sort | head -n 500 | xargs .venv/bin/python \
    benchmarks/rooms64_like.py --out $d/calibration
  ls $RECIPE_DATA/heldout/* | sort | tail -n 500 | xargs .venv/bin/python \
    benchmarks/rooms64_like.py --out $d/test/bedroom
  # The same test bedrooms damaged: what a reconstruction score should flag.
  for t in noise:0.05 blur:1.0 cutout:0.25; do
    ls $RECIPE_DATA/heldout/* | sort | tail -n 500 | xargs .venv/bin/python \
      benchmarks/rooms64_like.py --damage $t --out "$d/test/bedroom_${t%%:*}"
  done
  for t in bathroom dining_room entrance_hall kitchen living_room; do
    [ -d $d/test/$t ] && continue
    mkdir -p $d/test/$t
    ls "$rooms/$t" | sort | tail -n 500 | while read -r f; do ln -s "$rooms/$t/$f" $d/test/$t/; done
  done
}

train() {
  case $1 in
    procedural_gan_64) nice $KG train training/configs/procedural_gan_64.yaml \
        --set output.work_dir=runs/procedural_gan_64 ;;
    # 16 x 6,400 images with a cosine learning rate, on all six room types.
    rooms_denoiser) split_bedroom64; split_rooms64_all
      nice $KG train training/configs/denoiser.yaml --set data.path=runs/denoise_data/train_all \
        data.num_images=null data.validation_path=runs/denoise_data/val data.validation_images=200 \
        train.steps_per_epoch=200 train.epochs=16 train.optimizer.schedule=cosine \
        train.optimizer.alpha=0.02 output.work_dir=runs/rooms_denoiser name=rooms_denoiser \
        output.export_dir=null ;;
    # The recipe study's FastGAN run, seed 1 (3,000 train / 1,000 held-out
    # bedrooms; 256,000 images). Longer: resume it with a larger train.epochs.
    # Then resumed to 160 epochs (1,024,000 images) with the same overrides:
    #   keras-gen train training/configs/quality_fastgan.yaml --resume --set
    #   data.path=runs/recipes/data/train model.seed=1 data.seed=1 name=fastgan_s1
    #   output.work_dir=runs/recipes/fastgan_s1 train.epochs=160
    bedroom_gan_64) SEEDS=1 bash benchmarks/recipe_study.sh runs/recipes fastgan ;;
    # The six room types from bedroom_gan_64 (per-class norms start as its
    # norms; projection and AC head fresh), the FastGAN Adam for both
    # networks, checkpoints every 12,800 images; run as 8 epochs, then
    # --resume with train.epochs=22 (the log lines give each epoch's time).
    rooms_cgan_64) nice $KG train training/configs/rooms64_cgan.yaml --set model.architecture=fastgan \
        model.latent_dim=128 model.class_loss_weight=3.0 model.init_from=preset:bedroom_gan_64 \
        train.d_optimizer.learning_rate=2.0e-4 train.d_optimizer.beta_1=0.5 train.d_optimizer.beta_2=0.999 \
        train.g_optimizer.learning_rate=2.0e-4 train.g_optimizer.beta_1=0.5 train.g_optimizer.beta_2=0.999 \
        train.epochs=22 train.steps_per_epoch=100 output.checkpoint_every=2 output.export_dir=null \
        output.work_dir=runs/cgan_warm name=cgan_warm >> runs/cgan_warm.log 2>&1 ;;
    bedroom_vae_64) [ -d $RECIPE_DATA/train ] || bash benchmarks/recipe_study.sh runs/recipes split
      # Width 32 (2.9 M parameters): width 64 made a 35 MB .keras plus a
      # 34 MB SavedModel, more than the whole preset set may take (60 MB).
      nice $KG train training/configs/bedroom_vae.yaml --set data.path=$RECIPE_DATA/train \
        model.width=32 train.epochs=32 output.checkpoint_every=4 output.export_dir=null \
        --work-dir runs/bedroom_vae ;;
  esac
}

evaluate() {
  case $1 in
    procedural_gan_64) $KG evaluate runs/procedural_gan_64 --data rooms:2000:1000 \
        --num 2000 --kid-subset-size 500 --metrics fid,kid,pr --out $OUT/procedural_gan_64.json ;;
    rooms_denoiser) for s in 0.1 0.2; do
        $KG denoise runs/rooms_denoiser runs/denoise_data/test --add-noise $s \
          --out $OUT/denoised_$s --report $OUT/rooms_denoiser_$s.json; done ;;
    bedroom_vae_64) split_vae
      $KG anomaly fit runs/bedroom_vae --data runs/vae_data/calibration --fpr 0.05
      $KG evaluate runs/bedroom_vae --data runs/vae_data/test/bedroom --metrics vae \
        --num 500 --out $OUT/bedroom_vae_64_reconstruction.json
      $KG anomaly score runs/bedroom_vae --data runs/vae_data/test --normal bedroom \
        --out $OUT/bedroom_vae_64_anomaly/scores.csv --report $OUT/bedroom_vae_64_anomaly.json ;;
    bedroom_gan_64) $KG evaluate runs/recipes/fastgan_s1/checkpoints/epoch_070.keras --data runs/recipes/data/heldout \
        --num 1000 --kid-subset-size 500 --metrics fid,kid,pr,flat --out $OUT/bedroom_gan_64.json ;;
    rooms_cgan_64) .venv/bin/python benchmarks/checkpoint_run.py runs/cgan_warm $((10#$CGAN_EPOCH)) \
        runs/cgan_warm.log runs/presets/rooms_cgan_64_e$CGAN_EPOCH
      .venv/bin/python benchmarks/cgan_labels.py runs/presets/rooms_cgan_64_e$CGAN_EPOCH \
        --data ../shared/data/places365-rooms/rooms64 --num 500 --out $OUT/rooms_cgan_64.json ;;
  esac
}

publish() {
  local p="python -m keras_gen.presets.publish"
  case $1 in
    procedural_gan_64) .venv/bin/$p runs/procedural_gan_64 --name procedural_gan_64 \
        --task generate --description "DCGAN on the built-in procedural rooms, 64x64 (the last generator: no EMA)" \
        --data-name "procedural rooms (keras_gen.data.rooms, 10,000 rendered, seed 0)" \
        --licence "Apache-2.0 (rendered data, no third-party images)" \
        --evaluation $OUT/procedural_gan_64.json --evaluation-command \
        "keras-gen evaluate --preset procedural_gan_64 --data rooms:2000:1000 --num 2000 --kid-subset-size 500 --metrics fid,kid,pr --out FILE.json" ;;
    rooms_denoiser) .venv/bin/$p runs/rooms_denoiser --name rooms_denoiser --task denoise \
        --description "blind U-Net denoiser, Gaussian noise sigma 0.02-0.25, any image size" \
        --data-name "places365-rooms rooms64 (64x64 photos): bedroom and the five other room types" \
        --data-split "rooms64/bedroom sorted: first 3,300 train, next 200 validation, last 500 test (the figures); all 19,971 photos of the other five types train" \
        --licence "$PLACES" \
        --evaluation $OUT/rooms_denoiser_0.1.json --evaluation-command \
        "keras-gen denoise --preset rooms_denoiser TEST_500 --add-noise 0.1 --out DIR --report FILE.json" \
        --evaluation $OUT/rooms_denoiser_0.2.json --evaluation-command \
        "keras-gen denoise --preset rooms_denoiser TEST_500 --add-noise 0.2 --out DIR --report FILE.json" ;;
    bedroom_vae_64) .venv/bin/$p runs/bedroom_vae --name bedroom_vae_64 --task anomaly \
        --description "convolutional VAE (Gaussian likelihood) on bedroom photos, 64x64: reconstruction and anomaly scores with a threshold at 5% FPR; its samples are blurry" \
        --data-name "places365-rooms bedroom256 at 64x64" \
        --data-split "sorted files: first 3,000 train; held-out 3,001-3,500 threshold, 3,501-4,000 test (as rooms64 was made: 64 px bicubic, JPEG 95); anomalies: last 500 of every other rooms64 type" \
        --licence "$PLACES" \
        --evaluation $OUT/bedroom_vae_64_reconstruction.json --evaluation-command \
        "keras-gen evaluate --preset bedroom_vae_64 --data TEST_BEDROOMS_500 --metrics vae --num 500 --out FILE.json" \
        --evaluation $OUT/bedroom_vae_64_anomaly.json --evaluation-command \
        "keras-gen anomaly score --preset bedroom_vae_64 --data TEST_DIR --normal bedroom --out DIR/scores.csv --report FILE.json" ;;
    # The run's latest 10-epoch checkpoint, set up as a run folder (model.keras,
    # config.yaml, run.json) in runs/presets/bedroom_gan_64_e070.
    bedroom_gan_64) .venv/bin/$p runs/presets/bedroom_gan_64_e070 --name bedroom_gan_64 --task generate \
        --description "FastGAN-style networks (skip-layer excitation, self-supervised D; hinge, spectral norm, ADA, EMA generator) on bedroom photos, 64x64" \
        --data-name "places365-rooms bedroom256 at 64x64" \
        --data-split "sorted files: first 3,000 train, last 1,000 held out (the figures)" \
        --licence "$PLACES" \
        --evaluation $OUT/bedroom_gan_64.json --evaluation-command \
        "keras-gen evaluate --preset bedroom_gan_64 --data HELDOUT_1000 --num 1000 --kid-subset-size 500 --metrics fid,kid,pr,flat --out FILE.json" ;;
    rooms_cgan_64) .venv/bin/$p runs/presets/rooms_cgan_64_e$CGAN_EPOCH --name rooms_cgan_64 --task generate \
        --description "conditional FastGAN-style networks (class-conditional batch norm, projection + AC-GAN head; hinge, spectral norm, ADA, EMA generator) over six room types, 64x64, started from bedroom_gan_64" \
        --data-name "places365-rooms rooms64 (64x64 photos), six room types" \
        --data-split "all 23,971 photos train; the figures: the shipped room classifier's verdict on 500 samples per label, against its validation accuracy on real photos of that type" \
        --licence "$PLACES" \
        --evaluation $OUT/rooms_cgan_64.json --evaluation-command \
        "python benchmarks/cgan_labels.py preset:rooms_cgan_64 --data ROOMS64 --num 500 --out FILE.json" ;;
  esac
}

# The README's picture of a preset's output, on rendered rooms: the
# repository holds no Places365 photo, not even as a thumbnail.
picture() {
  case $1 in
    # Generated rooms (no photo): 36 samples of the preset, seeds 0-35 (a
    # conditional one cycles through its classes: one room type a column).
    *gan_64) $KG sample --preset "$1" --num 36 --out "docs/preset_$1.png" ;;
    bedroom_vae_64|rooms_denoiser) .venv/bin/python - "$1" <<'PY'
import sys

import numpy as np

from keras_gen import presets
from keras_gen.data.rooms import render_rooms
from keras_gen.utils.images import save_image_grid

name = sys.argv[1]
model = presets.load(name)
rooms = render_rooms(8, 64, seed=7)[0].astype("float32") / 255.0
if name == "bedroom_vae_64":
    # Rendered rooms, their reconstructions, samples of the prior.
    rows = [rooms, np.asarray(model.reconstruct(rooms))]
else:
    # Clean, noisy (sigma 0.1), denoised.
    noisy = rooms + np.random.default_rng(0).normal(0, 0.1, rooms.shape)
    rows = [rooms, noisy, np.asarray(model.denoise(np.clip(noisy, 0, 1)))]
rows = [np.rint(255 * np.clip(r, 0, 1)).astype(np.uint8) for r in rows]
if name == "bedroom_vae_64":
    rows.append(model.generate_uint8(8, seed=0))
print(save_image_grid(np.concatenate(rows), f"docs/preset_{name}.png", 8, 2))
PY
    ;;
  esac
}

for p in $PRESETS; do "$STAGE" "$p"; done
