"""The package list in pyproject.toml is complete, and the demo model ships in the wheel."""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "trt_viewer").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "trt_viewer.demo.assets" in listed


def test_demo_assets_are_mapped_into_the_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"]["trt_viewer.demo.assets"] == "assets"
    patterns = cfg["package-data"]["trt_viewer.demo.assets"]
    shipped = [p.name for pat in patterns for p in (ROOT / "assets").glob(pat)]
    assert "demo.onnx" in shipped and "demo.names" in shipped
