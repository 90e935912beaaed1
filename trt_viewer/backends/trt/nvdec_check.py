"""The child of run/nvdec_probe.py: decodes a file's first frame with NVDEC, made as
run/nvdec.py makes its decoder (pycuda's primary context and a non-blocking stream where
pycuda is there, as the TensorRT backend has them), and says whether it could.

    python -m trt_viewer.backends.trt.nvdec_check FILE GPU
exit 0: decoded; 1: not, the reason on stdout; killed by a signal: the decoder aborted.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from trt_viewer.backends.base import STREAM_NON_BLOCKING
from trt_viewer.errors import first_line


def first_frame(nvc: Any, spec: str, gpu: int) -> str:
    """In the child: '' once a ThreadedDecoder, made as run/nvdec.py makes it, has given
    the first frame; else why not. On pycuda's primary context where pycuda is there (as
    the backend's), else on the one PyNvVideoCodec makes."""
    extra: dict[str, Any] = {}
    context = stream = None
    try:
        import pycuda.driver as cuda
    except ImportError:
        cuda = None
    try:
        if cuda is not None:
            cuda.init()
            context = cuda.Device(gpu).retain_primary_context()
            context.push()
            stream = cuda.Stream(STREAM_NON_BLOCKING)  # as DeviceContext.stream()
            extra = {"cuda_context": context.handle, "cuda_stream": stream.handle}
        from trt_viewer.run.nvdec import threaded_decoder

        decoder = threaded_decoder(nvc, spec, gpu, 2, **extra)
        try:
            if not decoder.get_batch_frames(1):
                return "NVDEC decoded no frame of it"
        finally:
            decoder.end()
            del decoder  # its memory goes while its context is still there
    except Exception as exc:
        return first_line(exc)
    finally:
        del stream
        if context is not None:
            cuda.Context.pop()
            context.detach()
    return ""


def main(argv: list[str]) -> int:
    spec, gpu = argv[0], int(argv[1])
    try:
        import PyNvVideoCodec as nvc
    except Exception as exc:
        print(f"PyNvVideoCodec does not load: {first_line(exc)}")
        return 1
    why = first_frame(nvc, spec, gpu)
    if why:
        print(why)
    return 1 if why else 0


if __name__ == "__main__":
    answer = main(sys.argv[1:])
    sys.stdout.flush()
    # The answer is given: no interpreter teardown, where the decoder's C++ objects and
    # threads may go after the CUDA context they used (a SIGSEGV on the H200 that turned
    # files NVDEC decodes into "no").
    os._exit(answer)
