"""Inference backends behind one contract (base.Backend); each imports its runtime lazily."""

from __future__ import annotations

import re
from pathlib import Path

from trt_viewer.backends.base import Backend
from trt_viewer.errors import InputError

ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
MODEL_SUFFIXES = ONNX_SUFFIXES + ENGINE_SUFFIXES
MODEL_URL = re.compile(r"^(grpcs?|https?)://", re.IGNORECASE)  # backends/triton.py


def is_model_url(spec: str | Path) -> bool:
    """A model on a Triton server (grpc://, grpcs://, http://, https://), not a file."""
    return isinstance(spec, str) and bool(MODEL_URL.match(spec.strip()))


def check_model_path(path: str | Path) -> Path:
    if is_model_url(path):
        raise InputError(f"model {str(path).split('?', 1)[0]} is on a Triton server, not a file")
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"model {p} does not exist")
    if p.is_dir():
        raise InputError(f"model {p} is a folder, not a model file")
    try:
        with p.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise InputError(f"cannot read model {p}: {exc.strerror or exc}") from None
    return p


def open_backend(path: str | Path, input_size: tuple[int, int] | None = None, *, ort_workers: int | None = None,
                 copy_threads: int | None = None, write_combined: bool | None = None) -> Backend:
    """Open a model with the backend its file type needs (.onnx, or a TensorRT engine), or
    on a Triton server (grpc://HOST:PORT/MODEL, http://...: backends/triton.py).
    ort_workers: ONNX Runtime sessions side by side; copy_threads / write_combined: how
    TensorRT copies raw frames for the GPU letterbox (None: the defaults)."""
    if is_model_url(path):
        from trt_viewer.backends.triton import open_triton

        return open_triton(str(path), input_size=input_size)
    p = check_model_path(path)
    suffix = p.suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        from trt_viewer.backends.tensorrt import TensorRTBackend

        return TensorRTBackend(p, input_size=input_size, copy_threads=copy_threads, write_combined=write_combined)
    if suffix in ONNX_SUFFIXES:
        from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(p, input_size=input_size, workers=ort_workers)
    raise InputError(
        f"model {p.name}: unknown model type {suffix or '(no extension)'}; "
        f"expected one of {', '.join(MODEL_SUFFIXES)}"
    )
