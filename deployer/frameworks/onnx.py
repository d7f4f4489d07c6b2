"""ONNX: a .onnx file run by onnxruntime (one session per process)."""

from __future__ import annotations

from .base import Framework, by_suffix

FRAMEWORK = Framework(
    name="onnx",
    artifacts="a .onnx file, run by onnxruntime",
    packages=("onnxruntime", "pandas"),
    modules=("onnxruntime",),
    check=by_suffix("onnx", (".onnx",), "a .onnx file"),
    # skl2onnx classifiers answer (label, probabilities): predict and predict_proba.
    methods=("predict", "predict_proba"),
)
