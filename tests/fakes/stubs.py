"""tensorrt-stubs, made usable: found, parsed, and their generator's slips mended.

The stubs install `tensorrt/__init__.pyi` and `tensorrt_bindings/*.pyi` without py.typed,
so mypy will not use them from site-packages, and pybind11-stubgen left a few lines that
do not parse (a parameter named `in`, a required parameter after defaulted ones). A
mended copy in a temporary folder serves mypy (through mypy_path) and the name check.
"""

from __future__ import annotations

import ast
import re
import shutil
import sysconfig
from pathlib import Path

STUB_PACKAGES = ("tensorrt", "tensorrt_bindings")


def installed_stubs() -> Path | None:
    """site-packages holding tensorrt-stubs' .pyi files, or None if not installed."""
    site = Path(sysconfig.get_paths()["purelib"])
    ok = all((site / pkg / "__init__.pyi").is_file() for pkg in STUB_PACKAGES)
    return site if ok and (site / "tensorrt_bindings" / "tensorrt.pyi").is_file() else None


def mend(source: str) -> str:
    """Make a stub file parse: rename parameters called `in`, give trailing required
    parameters after defaulted ones a default."""
    source = re.sub(r"(?<=[(,] )in(?=: )", "in_", source)
    for _ in range(50):
        try:
            ast.parse(source)
            return source
        except SyntaxError as exc:
            if not exc.lineno or "default" not in str(exc.msg):
                raise
            lines = source.splitlines(keepends=True)
            line = lines[exc.lineno - 1]
            head, sep, tail = line.partition("(")
            params = re.sub(r"(\w+: [\w\[\], .|]+?)(?=, |\) ->)", _default_if_missing, tail)
            lines[exc.lineno - 1] = head + sep + params
            source = "".join(lines)
    raise RuntimeError("could not mend the TensorRT stubs")


def _default_if_missing(match: re.Match[str]) -> str:
    text = match.group(1)
    return text if "=" in text else f"{text} = ..."


def mended_copy(dest: Path) -> Path:
    """Copy the stub packages into `dest`, mended; returns `dest` (for mypy_path)."""
    site = installed_stubs()
    if site is None:
        raise FileNotFoundError("tensorrt-stubs is not installed")
    for pkg in STUB_PACKAGES:
        target = dest / pkg
        shutil.copytree(site / pkg, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        for stub in target.glob("*.pyi"):
            stub.write_text(mend(stub.read_text(encoding="utf-8")), encoding="utf-8")
    return dest


def stub_classes(stub_dir: Path) -> tuple[set[str], dict[str, set[str]]]:
    """Names the `tensorrt` module offers, and each class's members (bases included)."""
    tree = ast.parse((stub_dir / "tensorrt_bindings" / "tensorrt.pyi").read_text(encoding="utf-8"))
    init = ast.parse((stub_dir / "tensorrt" / "__init__.pyi").read_text(encoding="utf-8"))
    module_names: set[str] = set()
    for node in init.body:
        if isinstance(node, ast.ImportFrom):
            module_names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            module_names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            module_names.add(node.name)
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}

    def members(cls: ast.ClassDef, prefix: str) -> None:
        names: set[str] = set()
        for item in cls.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.add(item.target.id)
            elif isinstance(item, ast.Assign):
                names |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            elif isinstance(item, ast.ClassDef):
                names.add(item.name)
                members(item, f"{prefix}{cls.name}.")
        own[prefix + cls.name] = names
        bases[prefix + cls.name] = [b.id for b in cls.bases if isinstance(b, ast.Name)]

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members(node, "")

    def resolve(name: str) -> set[str]:
        result = set(own.get(name, set()))
        for base in bases.get(name, []):
            result |= resolve(base)
        return result

    return module_names, {name: resolve(name) for name in own}
