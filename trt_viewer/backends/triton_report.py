"""`trt-viewer inspect grpc://...`: what a model on a Triton server is, from its metadata and
config, and what trt_viewer makes of it (input size, layout, classes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trt_viewer.backends.triton import DTYPES, TritonBackend
from trt_viewer.backends.triton_clients import MAX_BATCH_FIELD
from trt_viewer.backends.triton_url import parse_url
from trt_viewer.core import layouts, names
from trt_viewer.errors import TrtViewerError

INTERNAL_PARAMETERS = {"workspace-path", "trace-config"}  # PyTriton's own, not the model's


def _tensor_info(tensor: Mapping[str, Any], mode: str) -> dict[str, Any]:
    datatype = str(tensor.get("datatype", ""))
    dtype = np.dtype(DTYPES[datatype]).name if datatype in DTYPES else datatype
    return {"name": str(tensor.get("name", "")), "mode": mode, "shape": [int(d) for d in tensor.get("shape", [])],
            "dtype": dtype}


def inspect_url(spec: str, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """What `trt-viewer inspect` shows for a model on a Triton server: the server's metadata
    and config, and what trt_viewer makes of them (input size, layout, classes)."""
    target, options = parse_url(spec)
    options.shm = "off"  # inspecting runs nothing
    backend = TritonBackend(target, options, input_size=input_size)
    try:
        config = backend.config
        report: dict[str, Any] = {
            "file": target.url,
            "kind": "triton",
            "server": target.server,
            "server_version": backend.server_version,
            "platform": backend.platform,
            "versions": backend.versions,
            MAX_BATCH_FIELD: backend.max_batch,
            "dynamic_batching": "dynamic_batching" in config,
            "instance_groups": [{"kind": str(g.get("kind", "")), "count": int(g.get("count", 1))}
                                for g in config.get("instance_group", [])],
            "inputs": [_tensor_info(t, "input") for t in backend.model_metadata.get("inputs", [])],
            "outputs": [_tensor_info(t, "output") for t in backend.model_metadata.get("outputs", [])],
            "input_size": list(backend.input_hw),
            "metadata": {k: v for k, v in backend.metadata.items() if k not in INTERNAL_PARAMETERS},
        }
        try:
            post = layouts.Postprocessor(backend.outputs, backend.input_hw)
            report["layout"] = post.layout or "raw or decoded (settled from the first frame's values)"
        except TrtViewerError as exc:
            report["layout"] = f"none: {exc}"
        count = layouts.num_classes(backend.outputs)
        class_names, source = names.resolve_names(None, backend.metadata,
                                                  backend.class_count_hint if count is None else count)
        if source.startswith("model metadata"):
            source = source.replace("model metadata", "model config parameter")
        report["classes"] = {"count": len(class_names), "source": source, "names": class_names}
    finally:
        backend.close()
    return report


def format_report(r: Mapping[str, Any]) -> str:
    def shape(dims: list[int]) -> str:
        return "[" + ", ".join("?" if d < 0 else str(d) for d in dims) + "]"

    server = f"Triton {r['server_version']}" if r.get("server_version") else "Triton"
    lines = [f"{r['file']}: model on a {server} server"]
    lines.append(f"  platform:       {r['platform'] or 'unknown'}")
    lines.append(f"  versions:       {', '.join(r['versions']) or 'unknown'}")
    if r[MAX_BATCH_FIELD]:
        batching = f"up to {r[MAX_BATCH_FIELD]} per batch" + (", dynamic batching" if r["dynamic_batching"] else "")
    else:
        batching = f"none ({MAX_BATCH_FIELD} 0)"
    lines.append(f"  batching:       {batching}")
    groups = ", ".join(f"{g['count']} x {g['kind']}" for g in r.get("instance_groups", []))
    if groups:
        lines.append(f"  instances:      {groups}")
    lines.append("  inputs:")
    lines += [f"    {t['name']}  {shape(t['shape'])}  {t['dtype']}" for t in r["inputs"]]
    lines.append("  outputs:")
    lines += [f"    {t['name']}  {shape(t['shape'])}  {t['dtype']}" for t in r["outputs"]]
    lines.append(f"  input size:     {r['input_size'][0]}x{r['input_size'][1]}")
    lines.append(f"  layout:         {r['layout']}")
    classes = r.get("classes")
    if classes:
        lines.append(f"  classes:        {names.describe_classes(classes)}")
    for key, value in sorted(r.get("metadata", {}).items()):
        if key in names.METADATA_KEYS:
            continue
        lines.append(f"  parameter {key}: {value if len(value) <= 80 else value[:77] + '...'}")
    return "\n".join(lines)
