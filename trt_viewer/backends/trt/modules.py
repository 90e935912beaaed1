"""Importing TensorRT and pycuda only when needed, with one clear line when they are missing."""

from __future__ import annotations

from typing import Any

from trt_viewer.errors import InputError, first_line

INSTALL_HINT = "pip install 'trt-viewer[tensorrt]'"


def require_tensorrt() -> str:
    """Import tensorrt (the caller then imports it by name) and return its version."""
    try:
        import tensorrt
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "tensorrt":
            raise InputError(f"TensorRT is not installed: {INSTALL_HINT}") from None
        raise InputError(f"TensorRT cannot load ({first_line(exc)}): {INSTALL_HINT}") from None
    except (ImportError, OSError) as exc:  # libnvinfer missing or for another CUDA
        raise InputError(f"TensorRT cannot load ({first_line(exc)}): {INSTALL_HINT}") from None
    # tensorrt-stubs alone leaves an importable namespace package without the API.
    if not hasattr(tensorrt, "Runtime"):
        raise InputError(f"TensorRT is not installed (only its type stubs are): {INSTALL_HINT}")
    return str(getattr(tensorrt, "__version__", "unknown"))


def import_pycuda() -> Any:
    """pycuda.driver, never pycuda's auto-initialising module (contexts are ours to manage)."""
    try:
        import pycuda.driver as driver
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "pycuda":
            raise InputError(f"pycuda is not installed: {INSTALL_HINT}") from None
        raise InputError(f"pycuda cannot load ({first_line(exc)})") from None
    except (ImportError, OSError) as exc:
        # pycuda links libcuda: without an NVIDIA driver its import is what fails.
        text = first_line(exc)
        if "libcuda" in text:
            raise InputError(f"no NVIDIA driver found: pycuda cannot load libcuda ({text})") from None
        raise InputError(f"pycuda cannot load ({text}); reinstall it against this CUDA: {INSTALL_HINT}") from None
    return driver
