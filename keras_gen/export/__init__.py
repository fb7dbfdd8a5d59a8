"""SavedModel export for TensorFlow Serving: signatures and model repository.

The public import path of the export; everything below is importable from
`keras_gen.export` itself.

- `keras_gen.export.signatures`: the signatures of an exported GAN, VAE or
  DAE (the public contract: names, inputs, outputs, checks) and the graphs
  behind them, `build_export_archive`. Its docstring documents them.
- `keras_gen.export.repository`: the TF Serving model repository: version
  folders, `models.config`, atomic publishing, stale temporaries, the
  weights digest that lets a rerun reuse an identical version.
- `keras_gen.export.exporter`: `export_generator` and `export_from_path`
  (`keras-gen export`), which build the one and publish into the other.

Example:
>>> from keras_gen.export import export_generator
>>> export_generator(gan, "saved_models", "demo_gan")  # doctest: +SKIP
PosixPath('saved_models/demo_gan/1')
"""

# Besides the public names, the helpers that lived in the single
# `keras_gen/export.py` stay importable from here.
from keras_gen.data.pipeline import MAX_PIXELS  # noqa: F401 (re-export)
from keras_gen.export.exporter import (
    export_from_path,
    export_generator,
    load_for_export,
)
from keras_gen.export.repository import (  # noqa: F401 (re-export)
    _TEMPORARY,
    CLASS_NAMES_FILE,
    MODELS_CONFIG,
    WEIGHTS_FILE,
    _chmod_as_created,
    _publish,
    list_models,
    models_config_text,
    next_version,
    publish_version,
    read_class_names,
    remove_stale_temporaries,
    same_weights_version,
    weights_digest,
    write_models_config,
)
from keras_gen.export.signatures import (  # noqa: F401 (re-export)
    DAE_SIGNATURES,
    GAN_SIGNATURES,
    MAX_BATCH,
    SIGNATURES,
    VAE_SIGNATURES,
    _check_labels,
    _denoiser_archive,
    _encode_png,
    _input_image_size,
    _is_dae,
    _is_vae,
    _on_any_batch,
    _prepare_images,
    _resize_and_center_crop,
    _to_uint8,
    build_export_archive,
    checked_input,
    signature_names,
)

__all__ = [
    "DAE_SIGNATURES",
    "GAN_SIGNATURES",
    "MODELS_CONFIG",
    "VAE_SIGNATURES",
    "build_export_archive",
    "export_from_path",
    "export_generator",
    "list_models",
    "load_for_export",
    "models_config_text",
    "next_version",
    "signature_names",
    "write_models_config",
]
