"""mypy on the whole package, with the settings of pyproject.toml and the TensorRT modules
checked against tensorrt-stubs; and the removed binding API appears nowhere in the
package (the project's hook greps for it too)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.stubs import installed_stubs, mended_copy

ROOT = Path(__file__).resolve().parents[1]
REMOVED_API = re.compile(
    r"get_binding_shape|binding_is_input|execute_async_v2|get_binding_dtype|num_bindings|max_batch_size|pycuda\.autoinit"
)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tensorrt-stubs, mended so that mypy parses them (they do not parse as published)."""
    if installed_stubs() is None:
        pytest.fail("tensorrt-stubs is not installed (the README's test command installs it)")
    return mended_copy(tmp_path_factory.mktemp("mypy") / "stubs")


def _mypy(stubs: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """mypy with pyproject.toml's settings; no paths: the files it names (the package)."""
    env = {**os.environ, "MYPYPATH": str(stubs)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(stubs.parent / "cache"), "--no-error-summary", *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )


def test_the_whole_package_type_checks(stubs: Path) -> None:
    result = _mypy(stubs)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_rejects_the_removed_binding_api(stubs: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import tensorrt as trt\n\n\n"
        "def run(engine: trt.ICudaEngine, context: trt.IExecutionContext) -> None:\n"
        "    engine.get_binding_shape(0)\n"
        "    context.execute_async_v2([0], 0)\n"
        "    context.execute_async_v3('not a stream handle')\n"
    )
    result = _mypy(stubs, str(probe))
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
