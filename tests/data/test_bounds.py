"""Memory stays bounded whatever an image's shape (issue: a 1x200000 PNG cost GBs)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_gen.data import folder, folder_scan
from keras_gen.data.folder import scan_image_folder

PEAK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    from keras_gen.data.pipeline import resize_and_center_crop

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024

    from PIL import Image
    from keras_gen.data.folder import image_folder_dataset

    folder = sys.argv[1]
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder + "/normal.png")
    Image.new("RGB", (200_000, 1), (128, 128, 128)).save(folder + "/thin.png")
    warm = resize_and_center_crop(tf.zeros([300, 200, 3], tf.uint8), 64)
    before = peak_mb()
    thin = tf.constant(np.full([1, 200_000, 3], 128, np.uint8))
    out = resize_and_center_crop(thin, 64).numpy()
    grow = peak_mb() - before
    # The same through a training pipeline over a folder holding the file.
    ds = image_folder_dataset(folder, image_size=64, batch_size=2,
                              value_range=(0.0, 255.0), training=False)
    batch = next(iter(ds)).numpy()
    print(json.dumps({"grow_mb": grow, "shape": list(out.shape),
                      "mean": float(out.mean()), "batch": list(batch.shape),
                      "grow_folder_mb": peak_mb() - before}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_1x200000_image_is_resized_in_bounded_memory(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["shape"] == [64, 64, 3] and result["mean"] == pytest.approx(128)
    # Without the aspect limit the resize alone raised the peak by ~10 GB.
    assert result["grow_mb"] < 200, result
    assert result["batch"] == [2, 64, 64, 3] and result["grow_folder_mb"] < 400


def test_a_decompression_bomb_is_skipped_with_its_reason(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.png")
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(folder_scan, "MAX_PIXELS", 100_000)
    with pytest.warns(folder.SkippedImagesWarning):
        scan = scan_image_folder(tmp_path)
    assert [Path(f).name for f in scan.files] == ["ok.png"]
    (reason,) = scan.reasons.values()
    assert "400x300 pixels, over the limit of 100,000" in reason


SIGNATURE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    from keras_gen.export import export_generator
    from tests.export.conftest import tiny_vae

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024

    path = export_generator(tiny_vae(), sys.argv[1], "vae", write_config=False)
    encode = tf.saved_model.load(str(path)).signatures["encode"]
    encode(images=tf.zeros([1, 40, 30, 3], tf.uint8))
    before = peak_mb()
    out = encode(images=tf.constant(np.full([1, 1, 200_000, 3], 128, np.uint8)))
    print(json.dumps({"grow_mb": peak_mb() - before,
                      "batch": int(out["z_mean"].shape[0])}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_1x200000_image_sent_to_the_encode_signature_stays_bounded(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", SIGNATURE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Before the aspect limit this request cost 3.2 GB in the server.
    assert result["batch"] == 1 and result["grow_mb"] < 300, result
