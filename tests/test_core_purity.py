"""The core and the run layer import no Qt, TensorRT or pycuda; the CLI's run path does
not either."""

import subprocess
import sys

FORBIDDEN = ("PySide6", "shiboken6", "tensorrt", "pycuda")

CHECK = """
import sys, pkgutil, importlib
import trt_viewer.core, trt_viewer.run, trt_viewer.track
for package in (trt_viewer.core, trt_viewer.run, trt_viewer.track):
    for m in pkgutil.iter_modules(package.__path__):
        importlib.import_module(package.__name__ + "." + m.name)
import trt_viewer.backends.base, trt_viewer.backends.onnxruntime, trt_viewer.cli.run, trt_viewer.bench.run
bad = sorted({n.split(".")[0] for n in sys.modules} & set(%r))
print(",".join(bad))
"""


def test_core_and_run_path_import_no_gui_or_gpu_module():
    out = subprocess.run(
        [sys.executable, "-c", CHECK % (FORBIDDEN,)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_core_sources_name_no_forbidden_module():
    import pathlib

    import trt_viewer.core
    import trt_viewer.run
    import trt_viewer.track

    for package in (trt_viewer.core, trt_viewer.run, trt_viewer.track):
        for path in pathlib.Path(package.__file__).parent.glob("*.py"):
            text = path.read_text()
            for name in FORBIDDEN:
                assert f"import {name}" not in text and f"from {name}" not in text, (path, name)
