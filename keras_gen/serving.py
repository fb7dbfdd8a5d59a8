"""Client for keras-gen models behind TensorFlow Serving (REST and gRPC).

Builds requests in TF Serving's documented formats and turns responses into
numpy arrays; it needs neither `keras_gen.models` nor a model file.

REST (`POST http://HOST:8501/v1/models/NAME[/versions/V]:predict`):

- row format: `{"signature_name": ..., "instances": [{"seed": 3}, ...]}`,
  one object per batch row (every input must share the batch size; TF
  Serving rejects an empty `instances` list);
- columnar format: `{"signature_name": ..., "inputs": {"seed": [3, 4]}}`,
  which also carries empty batches;
- bytes (string tensors) travel as `{"b64": "<base64>"}` both ways; TF
  Serving base64-encodes an output only when its name ends in `_bytes`,
  hence the `png_bytes` output of `generate_png`.

gRPC (`tensorflow.serving.PredictionService/Predict` on port 8500) needs
the optional `tensorflow-serving-api` package (`pip install
"keras-gen[serving]"`, see the README for the `--no-deps` caveat).

Example:
>>> body = rest_request({"seed": [3, 4]}, signature_name="generate")
>>> body
{'signature_name': 'generate', 'instances': [{'seed': 3}, {'seed': 4}]}
>>> rest_response_to_numpy({"predictions": [[1.5], [2.0]]}, ["score"])["score"]
array([[1.5],
       [2. ]], dtype=float32)
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# dtypes of the inputs and outputs of the exported signatures (see
# keras_gen/export/signatures.py). Requests are cast to them because TF Serving does not
# convert: a float64 `z` is rejected ("expects float but double is provided").
INPUT_DTYPES: dict[str, Any] = {
    "z": np.float32,
    "seed": np.int64,
    "label": np.int64,
    "images": np.uint8,
}
OUTPUT_DTYPES: dict[str, Any] = {
    "images": np.uint8,
    "png_bytes": object,
    "z_mean": np.float32,
    "z_log_var": np.float32,
    "score": np.float32,
    "is_anomaly": np.bool_,
}

ROW = "row"
COLUMNAR = "columnar"


class ServingError(RuntimeError):
    """TF Serving answered with an error (`{"error": ...}` or a gRPC status)."""


# ---------------------------------------------------------------- encoding
def _as_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, (bytes, str)):
        value = [value]
    array = np.asarray(value)
    if array.dtype.kind in "SUO":
        return np.asarray(value, dtype=object)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        # JSON has no NaN: the body would be invalid, or a flat grey image.
        raise ValueError(f"input {name!r} holds NaN or infinite values")
    dtype = INPUT_DTYPES.get(name)
    integral = dtype is not None and np.dtype(dtype).kind in "iu"
    if integral and array.dtype.kind == "f" and not np.all(array == np.round(array)):
        raise ValueError(
            f"input {name!r} takes integers; got {array.ravel()[:3].tolist()}..."
            " (a float would be truncated silently)"
        )
    return array.astype(dtype) if dtype is not None else array


def _to_json(value: Any) -> Any:
    """numpy / Python value -> JSON value, bytes as `{"b64": ...}`."""
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind in "SU":
            return [_to_json(v) for v in value]
        return value.tolist()
    if isinstance(value, (bytes, np.bytes_)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def rest_request(
    inputs: Mapping[str, Any],
    signature_name: str | None = None,
    format: str = ROW,
) -> dict[str, Any]:
    """The JSON body of a TF Serving REST `:predict` request.

    Args:
        inputs: input name -> batch (array-like, first dimension = batch);
            `bytes` values are sent base64-encoded.
        signature_name: e.g. "generate"; None uses `serving_default`.
        format: "row" (`instances`, one object per example) or "columnar"
            (`inputs`, one list per input; needed for an empty batch).

    Returns:
        A dict for `json.dumps`.

    Example:
    >>> rest_request({"seed": [7]}, "generate_png", format="columnar")
    {'signature_name': 'generate_png', 'inputs': {'seed': [7]}}
    """
    arrays = {name: _as_array(name, value) for name, value in inputs.items()}
    if not arrays:
        raise ValueError("a request needs at least one input")
    body: dict[str, Any] = {}
    if signature_name is not None:
        body["signature_name"] = signature_name
    if format == COLUMNAR:
        body["inputs"] = {name: _to_json(a) for name, a in arrays.items()}
        return body
    if format != ROW:
        raise ValueError(f"format must be 'row' or 'columnar', got {format!r}")
    sizes = {name: (len(a) if a.ndim else None) for name, a in arrays.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ValueError(
            f"row format needs every input batched with one batch size, got {sizes}"
            "; use format='columnar'"
        )
    (batch,) = set(sizes.values())
    if batch == 0:
        # TF Serving answers "No values in 'instances' array".
        raise ValueError("row format cannot carry an empty batch; use 'columnar'")
    body["instances"] = [
        {name: _to_json(a[i]) for name, a in arrays.items()} for i in range(batch)
    ]
    return body


# ---------------------------------------------------------------- decoding
def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        raise ServingError(f"unexpected JSON object in a tensor: {value!r}")
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _to_numpy(name: str, value: Any, dtypes: Mapping[str, Any]) -> np.ndarray:
    value = _from_json(value)
    if _contains_bytes(value):
        # An object array keeps each PNG as one `bytes` item (a fixed-width
        # "S" array would strip trailing NUL bytes).
        return np.asarray(value, dtype=object)
    return np.asarray(value, dtype=dtypes.get(name))


def _contains_bytes(value: Any) -> bool:
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, bytes)


def rest_response_to_numpy(
    response: Mapping[str, Any] | str | bytes,
    output_names: Sequence[str] | None = None,
    dtypes: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Decode a TF Serving REST `:predict` response.

    TF Serving drops the output name when a signature has one output (the
    row format's `predictions` is then a plain list, the columnar
    `outputs` a plain value), so pass `output_names` to name it.

    Args:
        response: the parsed JSON (or its text).
        output_names: the signature's output names (needed for a single
            output; default "output").
        dtypes: output name -> numpy dtype (default: `OUTPUT_DTYPES`).

    Returns:
        Output name -> numpy array with the batch first (`bytes` for
        `*_bytes` outputs, in an object array).

    Raises:
        ServingError: the server returned `{"error": ...}`.

    Example:
    >>> rest_response_to_numpy({"outputs": {"score": [1.0], "is_anomaly": [True]}})
    {'score': array([1.], dtype=float32), 'is_anomaly': array([ True])}
    """
    if isinstance(response, (str, bytes)):
        response = json.loads(response)
    dtypes = OUTPUT_DTYPES if dtypes is None else dtypes
    if "error" in response:
        raise ServingError(response["error"])
    single = output_names[0] if output_names and len(output_names) == 1 else "output"
    if "predictions" in response:
        rows = response["predictions"]
        if rows and isinstance(rows[0], dict) and set(rows[0]) != {"b64"}:
            names = list(rows[0])
            return {n: _to_numpy(n, [r[n] for r in rows], dtypes) for n in names}
        return {single: _to_numpy(single, rows, dtypes)}
    if "outputs" in response:
        outputs = response["outputs"]
        if isinstance(outputs, dict) and set(outputs) != {"b64"}:
            return {n: _to_numpy(n, v, dtypes) for n, v in outputs.items()}
        return {single: _to_numpy(single, outputs, dtypes)}
    raise ServingError(f"no 'predictions' or 'outputs' in the response: {response!r}")


def decode_png(png: bytes) -> np.ndarray:
    """PNG bytes -> uint8 `[H, W, 3]` (PIL, no TensorFlow needed).

    Example:
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (5, 4)).save(buffer, format="PNG")
    >>> decode_png(buffer.getvalue()).shape
    (4, 5, 3)
    """
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decode_pngs(pngs: Sequence[bytes]) -> np.ndarray:
    """A batch of PNG bytes (e.g. a `png_bytes` output) -> uint8 `[N, H, W, 3]`."""
    images = [decode_png(p) for p in pngs]
    if not images:
        return np.zeros((0, 0, 0, 3), np.uint8)
    return np.stack(images)


# -------------------------------------------------------------------- gRPC
def grpc_predict_request(
    model_name: str,
    inputs: Mapping[str, Any],
    signature_name: str | None = None,
    version: int | None = None,
) -> Any:
    """A `tensorflow.serving.PredictRequest` for the gRPC API.

    Args:
        model_name: the served model's name (its folder in `saved_models/`).
        inputs: input name -> batch; cast to the signature's dtypes
            (`INPUT_DTYPES`) so that e.g. Python floats become float32.
        signature_name: None for `serving_default`.
        version: a specific version; None for the one the server picks
            (the highest by default).

    Returns:
        A `predict_pb2.PredictRequest`.

    Raises:
        ImportError: `tensorflow-serving-api` is not installed.

    Example:
    >>> req = grpc_predict_request("demo_gan", {"seed": [1, 2]}, "generate")
    >>> req.inputs["seed"].tensor_shape.dim[0].size
    2
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    if signature_name is not None:
        request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        array = _as_array(name, value)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def grpc_response_to_numpy(response: Any) -> dict[str, np.ndarray]:
    """A `PredictResponse` -> output name -> numpy array.

    Example:
    >>> grpc_response_to_numpy(stub.Predict(request))["images"].shape  # doctest: +SKIP
    (2, 64, 64, 3)
    """
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


# ------------------------------------------------------------------ client
class ServingClient:
    """Talks to one model on a running `tensorflow_model_server`.

    Args:
        model: the model name (its folder in `saved_models/`).
        host: the server's host name.
        rest_port: TF Serving's `--rest_api_port` (8501 in the Docker image).
        grpc_port: TF Serving's `--port` (8500).
        version: a fixed version, or None for the server's choice.
        timeout: seconds per request.

    Example:
    >>> client = ServingClient("demo_gan")
    >>> images = client.generate([0, 1, 2])  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((3, 64, 64, 3), dtype('uint8'))
    """

    def __init__(
        self,
        model: str,
        host: str = "localhost",
        rest_port: int = 8501,
        grpc_port: int = 8500,
        version: int | None = None,
        timeout: float = 30.0,
    ):
        self.model = model
        self.host = host
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.version = version
        self.timeout = timeout

    @property
    def predict_url(self) -> str:
        """`http://HOST:PORT/v1/models/NAME[/versions/V]:predict`."""
        version = f"/versions/{self.version}" if self.version is not None else ""
        return (
            f"http://{self.host}:{self.rest_port}/v1/models/{self.model}"
            f"{version}:predict"
        )

    def predict(
        self,
        inputs: Mapping[str, Any],
        signature_name: str | None = None,
        format: str = COLUMNAR,
        output_names: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """One REST `:predict` call.

        Args:
            inputs, signature_name, format: see `rest_request` (columnar by
                default: shorter JSON and empty batches work).
            output_names: see `rest_response_to_numpy`.

        Returns:
            Output name -> numpy array.
        """
        body = json.dumps(rest_request(inputs, signature_name, format)).encode()
        request = urllib.request.Request(
            self.predict_url,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                payload = reply.read()
        except urllib.error.HTTPError as err:
            # TF Serving puts the reason in a JSON body: {"error": "..."}.
            payload = err.read()
            try:
                message = json.loads(payload).get("error", payload.decode())
            except ValueError:
                message = payload.decode(errors="replace")
            raise ServingError(f"HTTP {err.code}: {message}") from None
        return rest_response_to_numpy(payload, output_names)

    def predict_grpc(
        self, inputs: Mapping[str, Any], signature_name: str | None = None
    ) -> dict[str, np.ndarray]:
        """One gRPC `Predict` call (needs `tensorflow-serving-api`)."""
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        request = grpc_predict_request(self.model, inputs, signature_name, self.version)
        with grpc.insecure_channel(f"{self.host}:{self.grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            try:
                response = stub.Predict(request, timeout=self.timeout)
            except grpc.RpcError as err:
                raise ServingError(f"{err.code()}: {err.details()}") from None
        return grpc_response_to_numpy(response)

    def generate(self, seeds: Sequence[int], png: bool = False) -> np.ndarray:
        """uint8 images `[len(seeds), H, W, 3]` of these seeds over REST.

        Args:
            seeds: one image per seed (the same image for the same seed).
            png: fetch PNG files (`generate_png`: about 12 KB of JSON per
                64x64 demo image instead of 53 KB of pixel lists) and
                decode them here.
        """
        if png:
            out = self.predict(
                {"seed": seeds}, "generate_png", output_names=["png_bytes"]
            )
            return decode_pngs(list(out["png_bytes"]))
        out = self.predict({"seed": seeds}, "generate", output_names=["images"])
        return out["images"]


__all__ = [
    "COLUMNAR",
    "INPUT_DTYPES",
    "OUTPUT_DTYPES",
    "ROW",
    "ServingClient",
    "ServingError",
    "decode_png",
    "decode_pngs",
    "grpc_predict_request",
    "grpc_response_to_numpy",
    "rest_request",
    "rest_response_to_numpy",
]
