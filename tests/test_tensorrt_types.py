"""The TensorRT modules type-check against tensorrt-stubs, and the removed binding API
appears nowhere in the package (the project's hook greps for it too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.stubs import installed_stubs, mended_copy

ROOT = Path(__file__).resolve().parents[1]
CHECKED = [
    "trt_viewer/backends/tensorrt.py",
    "trt_viewer/backends/trt",
    "trt_viewer/cli/build.py",
    "trt_viewer/cli/inspect.py",
]
# The same settings as the mypy overrides in pyproject.toml (README: mypy settings), plus where the mended
# stubs are: the test does not depend on pyproject.toml having that section yet.
CONFIG = """\
[mypy]
python_version = 3.10
mypy_path = {stubs}
follow_imports = silent
disallow_untyped_defs = True
disallow_incomplete_defs = True
check_untyped_defs = True
no_implicit_optional = True
warn_redundant_casts = True
warn_unused_ignores = True
warn_return_any = True
strict_equality = True

[mypy-tensorrt.*,tensorrt_bindings.*]
ignore_errors = True

[mypy-tensorrt_libs]
ignore_missing_imports = True

[mypy-pycuda,pycuda.*]
ignore_missing_imports = True
"""
REMOVED_API = re.compile(
    r"get_binding_shape|binding_is_input|execute_async_v2|get_binding_dtype|num_bindings|max_batch_size|pycuda\.autoinit"
)


@pytest.fixture(scope="module")
def mypy_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if installed_stubs() is None:
        pytest.fail("tensorrt-stubs is not installed (the README's test command installs it)")
    d = tmp_path_factory.mktemp("mypy")
    stubs = mended_copy(d / "stubs")
    config = d / "mypy.ini"
    config.write_text(CONFIG.format(stubs=stubs))
    return config


def _mypy(config: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(config.parent / "cache"),
         "--no-error-summary", *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def test_tensorrt_modules_type_check(mypy_config: Path) -> None:
    result = _mypy(mypy_config, *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_rejects_the_removed_binding_api(mypy_config: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import tensorrt as trt\n\n\n"
        "def run(engine: trt.ICudaEngine, context: trt.IExecutionContext) -> None:\n"
        "    engine.get_binding_shape(0)\n"
        "    context.execute_async_v2([0], 0)\n"
        "    context.execute_async_v3('not a stream handle')\n"
    )
    result = _mypy(mypy_config, str(probe))
    assert result.returncode != 0
    for expected in ("get_binding_shape", "execute_async_v2", "execute_async_v3"):
        assert expected in result.stdout, result.stdout


def test_no_removed_binding_api_in_the_package() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "trt_viewer").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if REMOVED_API.search(line)
    ]
    assert not hits, hits
