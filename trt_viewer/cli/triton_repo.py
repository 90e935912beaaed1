"""`trt-viewer triton-repo MODEL -o REPO/`: a Triton model repository for an engine or an
ONNX model (see trt_viewer/backends/triton_repo.py and docs/triton.md).

Importing this module is cheap (argparse only); the model is read when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trt_viewer.cli.args import not_negative, positive

DESCRIPTION = (
    "Write a Triton Inference Server model repository for a TensorRT engine (platform "
    "tensorrt_plan) or an ONNX model (onnxruntime_onnx): REPO/NAME/config.pbtxt with the "
    "model's I/O, batching where its batch dimension is dynamic, instance groups and the class "
    "names; REPO/NAME/labels.txt; REPO/NAME/1/model.plan or model.onnx. Serve it with "
    "`tritonserver --model-repository=REPO` and open it with --model grpc://SERVER:8001/NAME."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `triton-repo` on the subparsers of the `trt-viewer` parser."""

    p: argparse.ArgumentParser = sub.add_parser(
        "triton-repo", help="write a Triton model repository for an engine or ONNX model", description=DESCRIPTION
    )
    p.add_argument("model", help="engine (.engine, .plan, .trt) or ONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, metavar="REPO", help="model repository folder (made if missing)")
    p.add_argument("--name", help="the model's name on the server (default: the file's name without extension)")
    p.add_argument("--max-batch-size", type=not_negative, metavar="B", dest="max_batch",
                   help="largest batch the server may form (default: 8 where the model's batch dimension is "
                   "dynamic, an engine's profile maximum, 0 where the batch is fixed); 0 turns batching off")
    p.add_argument("--instances", type=positive, default=1, metavar="K",
                   help="model instances the server runs side by side (default 1)")
    p.add_argument("--kind", choices=("auto", "gpu", "cpu"), default="auto",
                   help="where the instances run (default auto: the GPU where there is one)")
    p.add_argument("--backend", choices=("auto", "python"), default="auto",
                   help="auto: tensorrt_plan or onnxruntime_onnx; python: an ONNX model run by ONNX Runtime inside "
                   "Triton's Python backend (CPU; for a server without the onnxruntime backend)")
    p.add_argument("--version", type=positive, default=1, help="the model version folder (default 1)")
    p.add_argument("--names", metavar="FILE", help="class names, one per line (default: from the model)")
    p.add_argument("--force", action="store_true", help="replace the model's folder where it exists")
    p.set_defaults(func=triton_repo_command)
    return p


def triton_repo_command(args: argparse.Namespace) -> int:
    from trt_viewer.backends.triton_repo import RepoOptions, write_repository
    from trt_viewer.errors import InputError

    names_file = Path(args.names).expanduser() if args.names else None
    if names_file is not None and not names_file.is_file():
        raise InputError(f"class names file {names_file} does not exist")
    repo = write_repository(RepoOptions(
        model=Path(args.model).expanduser(), repository=Path(args.output), name=args.name,
        max_batch=args.max_batch, instances=args.instances, kind=args.kind, backend=args.backend,
        version=args.version, names_file=names_file, force=args.force,
    ))
    for path in repo.files:
        print(path, file=sys.stdout)
    batching = f"batches of up to {repo.batch}, dynamic batching" if repo.batch else f"no batching: {repo.note}"
    print(f"trt-viewer: {repo.folder.name}: {batching}; {len(repo.names)} class names ({repo.names_source})",
          file=sys.stderr)
    return 0
