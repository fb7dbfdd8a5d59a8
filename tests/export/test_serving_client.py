"""`keras_gen.serving`: requests in TF Serving's documented formats.

The expected JSON is written out from TF Serving's REST API documentation
(tensorflow.org/tfx/serving/api_rest and its json_tensor.cc): `instances`
rows of named objects, columnar `inputs`, `{"b64": ...}` for bytes, and
outputs named `*_bytes` returned base64-encoded.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.serving import (
    ServingClient,
    ServingError,
    decode_pngs,
    grpc_predict_request,
    grpc_response_to_numpy,
    rest_request,
    rest_response_to_numpy,
)
from tests.export.conftest import SIZE, test_images

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)  # a 1x1 RGB PNG


def test_row_format_is_one_named_object_per_example():
    assert rest_request({"seed": [3, 4]}, "generate") == {
        "signature_name": "generate",
        "instances": [{"seed": 3}, {"seed": 4}],
    }
    # Conditional model: every row carries every input.
    body = rest_request({"seed": np.array([3, 4]), "label": [0, 2]}, "generate")
    assert body["instances"] == [{"seed": 3, "label": 0}, {"seed": 4, "label": 2}]
    image = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    body = rest_request({"images": image}, "encode")
    assert body["instances"] == [
        {"images": [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]}
    ]
    json.dumps(body)  # plain JSON types only (no numpy scalars)


def test_columnar_format_and_default_signature():
    z = np.random.default_rng(0).standard_normal((2, 3))  # float64 on purpose
    body = rest_request({"z": z}, format="columnar")
    assert set(body) == {"inputs"}  # no signature_name: serving_default
    # Sent as float32 values (what the signature takes), exactly.
    np.testing.assert_array_equal(
        np.asarray(json.loads(json.dumps(body))["inputs"]["z"], np.float32),
        z.astype(np.float32),
    )
    assert rest_request({"seed": []}, "generate", format="columnar") == {
        "signature_name": "generate",
        "inputs": {"seed": []},
    }


def test_bytes_travel_as_b64_objects():
    body = rest_request({"png_bytes": [PNG]}, format="columnar")
    assert body == {"inputs": {"png_bytes": [{"b64": base64.b64encode(PNG).decode()}]}}
    body = rest_request({"png_bytes": [PNG, PNG]})
    assert body["instances"][1] == {
        "png_bytes": {"b64": base64.b64encode(PNG).decode()}
    }


def test_row_format_refuses_what_tf_serving_refuses():
    with pytest.raises(ValueError, match="empty batch"):
        rest_request({"seed": []}, "generate")
    with pytest.raises(ValueError, match="one batch size"):
        rest_request({"seed": [1, 2], "label": [0]}, "generate")
    with pytest.raises(ValueError, match="row.*columnar"):
        rest_request({"seed": [1]}, format="rows")


def test_documented_responses_decode_to_numpy():
    # Row format, one output: TF Serving drops its name.
    out = rest_response_to_numpy({"predictions": [[[[0, 1, 255]]]]}, ["images"])
    assert out["images"].dtype == np.uint8 and out["images"].shape == (1, 1, 1, 3)
    # Row format, `png_bytes`: base64 objects.
    b64 = base64.b64encode(PNG).decode()
    out = rest_response_to_numpy({"predictions": [{"b64": b64}] * 2}, ["png_bytes"])
    assert list(out["png_bytes"]) == [PNG, PNG]
    assert decode_pngs(out["png_bytes"]).shape == (2, 1, 1, 3)
    # Several outputs: one object per row, or one list per output.
    rows = {
        "predictions": [
            {"score": 1.5, "is_anomaly": True},
            {"score": -2.0, "is_anomaly": False},
        ]
    }
    cols = {"outputs": {"score": [1.5, -2.0], "is_anomaly": [True, False]}}
    for response in (rows, json.dumps(cols)):
        out = rest_response_to_numpy(response)
        np.testing.assert_array_equal(out["score"], np.float32([1.5, -2.0]))
        np.testing.assert_array_equal(out["is_anomaly"], [True, False])
    # Columnar, one output.
    out = rest_response_to_numpy({"outputs": [[0.5, 1.0]]}, ["z_mean"])
    assert out["z_mean"].dtype == np.float32
    with pytest.raises(ServingError, match="Expects arg"):
        rest_response_to_numpy(
            {"error": "Expects arg[0] to be int64 but float is provided"}
        )


class FakeServing(BaseHTTPRequestHandler):
    """Stands in for TF Serving's REST port: runs the real SavedModel signature
    on the columnar request and answers in the documented columnar format."""

    model = None
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers["Content-Type"], body))
        signature = self.model.signatures[body.get("signature_name", "serving_default")]
        _, specs = signature.structured_input_signature
        try:
            inputs = {
                k: tf.constant(v, specs[k].dtype) for k, v in body["inputs"].items()
            }
            outputs = signature(**inputs)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            return self.reply(400, {"error": str(err).splitlines()[0]})
        encoded = {}
        for name, tensor in outputs.items():
            value = tensor.numpy().tolist()
            if name.endswith("_bytes"):
                value = [{"b64": base64.b64encode(v).decode()} for v in value]
            encoded[name] = value
        self.reply(200, {"outputs": encoded if len(encoded) > 1 else value})

    def reply(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_server(loaded):
    FakeServing.model = loaded["gan"]
    FakeServing.seen = []
    server = HTTPServer(("127.0.0.1", 0), FakeServing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_client_over_http(fake_server, loaded):
    port = fake_server.server_address[1]
    client = ServingClient("gan", rest_port=port, version=1)
    expected = loaded["gan"].signatures["generate"](seed=tf.constant([4, 5], tf.int64))
    np.testing.assert_array_equal(client.generate([4, 5]), expected["images"])
    np.testing.assert_array_equal(client.generate([4, 5], png=True), expected["images"])
    assert client.generate([]).shape[0] == 0
    path, content_type, body = FakeServing.seen[0]
    assert path == "/v1/models/gan/versions/1:predict"
    assert content_type == "application/json"
    assert body == {"signature_name": "generate", "inputs": {"seed": [4, 5]}}
    with pytest.raises(ServingError, match="HTTP 400"):
        client.predict({"z": [[0.0]]})


needs_serving_api = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None,
    reason="tensorflow-serving-api not installed (see the README's serving extra)",
)


@needs_serving_api
def test_grpc_request_tensor_protos():
    from tensorflow.core.framework import types_pb2
    from tensorflow_serving.apis import predict_pb2

    request = grpc_predict_request("rooms", {"seed": [1, 2]}, "generate", version=3)
    # Through the wire format and back, as the server would see it.
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert request.model_spec.name == "rooms"
    assert request.model_spec.signature_name == "generate"
    assert request.model_spec.version.value == 3
    seed = request.inputs["seed"]
    assert seed.dtype == types_pb2.DT_INT64
    assert [d.size for d in seed.tensor_shape.dim] == [2]
    np.testing.assert_array_equal(tf.make_ndarray(seed), [1, 2])

    request = grpc_predict_request("rooms", {"z": np.zeros((4, 16))})
    assert request.model_spec.signature_name == ""  # serving_default
    assert not request.model_spec.HasField("version")
    assert request.inputs["z"].dtype == types_pb2.DT_FLOAT  # not DT_DOUBLE
    request = grpc_predict_request("rooms", {"images": test_images(2)}, "encode")
    assert request.inputs["images"].dtype == types_pb2.DT_UINT8
    assert [d.size for d in request.inputs["images"].tensor_shape.dim] == [
        2,
        SIZE,
        SIZE,
        3,
    ]


@needs_serving_api
def test_grpc_round_trip_through_the_savedmodel(loaded):
    from tensorflow_serving.apis import predict_pb2

    model = loaded["vae"]
    results = {}
    for signature_name, inputs in (
        ("generate_png", {"seed": [7, 8]}),
        ("anomaly_score", {"images": test_images(3)}),
    ):
        request = grpc_predict_request("vae", inputs, signature_name)
        signature = model.signatures[request.model_spec.signature_name]
        _, specs = signature.structured_input_signature
        # What TF Serving checks: the input names, and the dtypes it feeds.
        assert set(request.inputs) == set(specs)
        feeds = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        for name, array in feeds.items():
            assert tf.as_dtype(array.dtype) == specs[name].dtype
        outputs = signature(**{k: tf.constant(v) for k, v in feeds.items()})
        response = predict_pb2.PredictResponse()
        for name, tensor in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor.numpy()))
        response = predict_pb2.PredictResponse.FromString(response.SerializeToString())
        results[signature_name] = grpc_response_to_numpy(response)
        assert set(results[signature_name]) == set(outputs)
        for name, tensor in outputs.items():
            np.testing.assert_array_equal(results[signature_name][name], tensor.numpy())
    images = model.signatures["generate"](seed=tf.constant([7, 8], tf.int64))["images"]
    pngs = list(results["generate_png"]["png_bytes"])
    np.testing.assert_array_equal(decode_pngs(pngs), images)


@pytest.mark.parametrize(
    "inputs, fragment",
    [
        ({"z": [[0.0, float("nan")]]}, "NaN or infinite"),
        ({"z": [[float("inf"), 0.0]]}, "NaN or infinite"),
        ({"seed": [1.5, 2.0]}, "takes integers"),
    ],
)
def test_requests_refuse_values_json_cannot_carry(inputs, fragment):
    with pytest.raises(ValueError, match=fragment):
        rest_request(inputs, "generate")
    # Whole-number floats are still fine seeds.
    assert rest_request({"seed": [1.0, 2.0]})["instances"] == [{"seed": 1}, {"seed": 2}]
