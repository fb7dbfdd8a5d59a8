"""The README's Python API example runs (on the smoke config, for speed)."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_python_api_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace(
        "training/configs/demo_gan.yaml",
        str(ROOT / "training" / "configs" / "smoke_gan.yaml"),
    ).replace("batch_size=32", "batch_size=16")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    images = scope["images"]
    assert images.shape == (16, 32, 32, 3) and images.dtype.name == "uint8"
    assert (tmp_path / "gan.keras").is_file()
    assert scope["gan"].generate_uint8(1, seed=0).tolist() == images[:1].tolist()
