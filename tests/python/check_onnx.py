"""Independent check of exported ONNX files: onnx's checker and strict shape inference, then
onnxruntime's outputs against candle's (written by the Rust test). Usage: check_onnx.py MANIFEST.

The manifest lists cases: {"model", "input", "sample_shape", "output_shape", "batch",
"input_file", "expected", "tolerance", optional "output": the output compared (default image or
logit), optional "labels_file": a conditional model's `label` input}; files hold little-endian
float32 (labels: int64). Prints 'N passed, M failed' and exits 1 on any
failure."""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

REQUIRED_METADATA = ["gan.role", "gan.arch", "gan.nz", "gan.latent", "gan.range", "gan.layout",
                     "gan.train_steps", "gan.dataset"]
CLASSIFIER_METADATA = ["gan.role", "gan.arch", "gan.classes", "gan.channels", "gan.height",
                       "gan.width", "gan.normalize", "gan.logits_output", "gan.features_output"]


def check_model(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    meta = {p.key: p.value for p in model.metadata_props}
    required = CLASSIFIER_METADATA if meta.get("gan.role") == "classifier" else REQUIRED_METADATA
    missing = [k for k in required if k not in meta]
    if missing:
        raise AssertionError(f"metadata lacks {missing}")
    if meta.get("gan.conditional") == "true":
        classes = json.loads(meta.get("gan.classes", "null"))
        label = [i for i in model.graph.input if i.name == "label"]
        if not isinstance(classes, list) or len(classes) < 2 or len(label) != 1:
            raise AssertionError("a conditional model needs gan.classes and a label input")
        if label[0].type.tensor_type.elem_type != onnx.TensorProto.INT64:
            raise AssertionError("the label input is not int64")
    if meta.get("gan.layout") == "NCHW":
        for k in ["gan.channels", "gan.height", "gan.width"]:
            if k not in meta:
                raise AssertionError(f"metadata lacks {k}")
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or not all(d.dim_param or d.dim_value > 0 for d in dims):
            raise AssertionError(f"{value.name} lacks a full shape")
    if not model.producer_name or not model.doc_string:
        raise AssertionError("producer_name or doc_string missing")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def main():
    manifest_path = sys.argv[1]
    base = os.path.dirname(manifest_path)
    cases = json.load(open(manifest_path))
    passed, failed, checked = 0, 0, {}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for case in cases:
        name = f"{case['model']} batch {case['batch']}"
        try:
            model_path = os.path.join(base, case["model"])
            if model_path not in checked:
                check_model(model_path)
                checked[model_path] = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
            session = checked[model_path]
            shape = [case["batch"]] + case["sample_shape"]
            x = np.fromfile(os.path.join(base, case["input_file"]), dtype="<f4").reshape(shape)
            names = [o.name for o in session.get_outputs()]
            feeds = {case["input"]: x}
            if case.get("labels_file"):
                feeds["label"] = np.fromfile(os.path.join(base, case["labels_file"]), dtype="<i8")
            outputs = dict(zip(names, session.run(None, feeds)))
            ref = np.fromfile(os.path.join(base, case["expected"]), dtype="<f4")
            scale = max(1.0, float(np.abs(ref).max()))
            main_output = case.get("output") or ("image" if "image" in outputs else "logit")
            diff = float(np.abs(outputs[main_output].reshape(-1) - ref).max()) / scale
            if diff > case["tolerance"]:
                raise AssertionError(f"{main_output} differs from candle by {diff:.3e}")
            if "prob" in outputs:
                pdiff = float(np.abs(outputs["prob"].reshape(-1) - sigmoid(ref)).max())
                if pdiff > case["tolerance"]:
                    raise AssertionError(f"prob differs by {pdiff:.3e}")
            if "pixels" in outputs:
                px = outputs["pixels"]
                if px.dtype != np.uint8 or px.shape[-1] != 4 or px.shape[0] != case["batch"]:
                    raise AssertionError(f"pixels has dtype {px.dtype} shape {px.shape}")
                img = ref.reshape([case["batch"]] + case["output_shape"])
                if img.shape[1] == 1:
                    img = np.repeat(img, 3, axis=1)
                want = np.clip(np.round((img + 1.0) * 127.5), 0, 255).transpose(0, 2, 3, 1)
                # Alpha is exactly 255, unless the image has its own fourth channel (RGBA).
                opaque = img.shape[1] == 3
                channels = 3 if opaque else 4
                if np.abs(px[..., :channels].astype(np.int32) - want).max() > 1 or (
                    opaque and (px[..., 3] != 255).any()
                ):
                    raise AssertionError("pixels differ from round((image + 1) * 127.5)")
            passed += 1
        except Exception as error:  # report every case, not just the first
            failed += 1
            print(f"FAIL {name}: {error}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
