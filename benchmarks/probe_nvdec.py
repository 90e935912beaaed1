"""What PyNvVideoCodec gives on this machine, for the NVDEC source (run/nvdec.py): its
names, a ThreadedDecoder and a SimpleDecoder on pycuda's primary context and a stream of
ours, the decoded frame's planes (shape, strides, pointers), whether a frame handed out
keeps its pixels while later frames are fetched, per-frame fetch time, and seeking.

    python3 benchmarks/probe_nvdec.py VIDEO > probe.log
"""

from __future__ import annotations

import hashlib
import sys
import time

import numpy as np


def planes(frame):
    out = []
    try:
        parts = frame.cuda()
    except Exception as exc:
        print("  frame.cuda() failed:", exc)
        parts = []
    for p in parts:
        out.append(dict(p.__cuda_array_interface__))
    return out


def digest(cuda, ptr, nbytes):
    host = np.empty(nbytes, np.uint8)
    cuda.memcpy_dtoh(host, ptr)
    return hashlib.sha1(host.tobytes()).hexdigest()[:12]


def main() -> int:
    path = sys.argv[1]
    import pycuda.driver as cuda

    cuda.init()
    dev = cuda.Device(0)
    ctx = dev.retain_primary_context()
    ctx.push()
    stream = cuda.Stream()
    import PyNvVideoCodec as nvc

    print("version", nvc.__version__, "cuda", getattr(nvc, "__cuda_version__", "?"))
    print("module names:", sorted(n for n in dir(nvc) if not n.startswith("_")))
    print("OutputColorType:", [n for n in dir(nvc.OutputColorType) if not n.startswith("_")])
    for cls in ("ThreadedDecoder", "SimpleDecoder"):
        print(cls, sorted(n for n in dir(getattr(nvc, cls)) if not n.startswith("_")))

    dec = nvc.ThreadedDecoder(path, buffer_size=12, gpu_id=0, cuda_context=ctx.handle, cuda_stream=stream.handle,
                              use_device_memory=True, output_color_type=nvc.OutputColorType.NATIVE)
    meta = dec.get_stream_metadata()
    print("metadata:", {n: getattr(meta, n) for n in dir(meta) if not n.startswith("_")})
    print("len", len(dec))
    first = dec.get_batch_frames(1)
    print("batch type", type(first), len(first))
    f0 = first[0]
    print("frame type", type(f0), sorted(n for n in dir(f0) if not n.startswith("__")))
    for n in ("shape", "framesize", "getPTS", "format", "timestamp"):
        try:
            v = getattr(f0, n)
            print(" ", n, v() if callable(v) else v)
        except Exception as exc:
            print(" ", n, "->", type(exc).__name__, exc)
    try:
        print("  GetPtrToPlane(0)", f0.GetPtrToPlane(0), "GetPtrToPlane(1)", f0.GetPtrToPlane(1))
    except Exception as exc:
        print("  GetPtrToPlane ->", exc)
    try:
        print("  frame __cuda_array_interface__", f0.__cuda_array_interface__)
    except Exception as exc:
        print("  frame cai ->", exc)
    p0 = planes(f0)
    print("  planes", p0)
    y_ptr = p0[0]["data"][0] if p0 else f0.GetPtrToPlane(0)
    size = int(f0.framesize())
    before = digest(cuda, y_ptr, size)
    held = []
    for _ in range(40):  # fetch on, holding nothing (and some held)
        b = dec.get_batch_frames(1)
        if len(held) < 3:
            held.extend(b)
    after = digest(cuda, y_ptr, size)
    print("frame 0 pixels kept after 40 more fetches:", before == after, before, after)
    ptrs = [planes(h)[0]["data"][0] if planes(h) else None for h in held]
    print("held pointers", ptrs, "frame0", y_ptr)
    # fetch time
    n, t0, gets = 0, time.perf_counter(), []
    while True:
        t = time.perf_counter()
        b = dec.get_batch_frames(1)
        gets.append(time.perf_counter() - t)
        if not b:
            break
        n += 1
    el = time.perf_counter() - t0
    print(f"threaded: {n} more frames in {el:.3f}s = {n / el:.1f} FPS; get p50 {np.median(gets) * 1e3:.3f} ms "
          f"p95 {np.percentile(gets, 95) * 1e3:.3f} ms; end returns {b!r}")
    try:
        dec.reconfigure_decoder(path, 100)
        b = dec.get_batch_frames(1)
        print("after reconfigure_decoder(path, 100):", len(b), b[0].getPTS() if b else None)
    except Exception as exc:
        print("reconfigure ->", type(exc).__name__, exc)
    del dec
    sd = nvc.SimpleDecoder(path, gpu_id=0, cuda_context=ctx.handle, cuda_stream=stream.handle, use_device_memory=True,
                           output_color_type=nvc.OutputColorType.NATIVE)
    print("simple len", len(sd))
    for name in ("seek_to_index", "get_batch_frames"):
        print(" has", name, hasattr(sd, name))
    try:
        sd.seek_to_index(50)
        b = sd.get_batch_frames(1)
        print("simple after seek_to_index(50):", len(b), b[0].getPTS())
    except Exception as exc:
        print("simple seek ->", type(exc).__name__, exc)
    n, t0 = 0, time.perf_counter()
    while b := sd.get_batch_frames(8):
        n += len(b)
    el = time.perf_counter() - t0
    print(f"simple batches of 8: {n} frames {n / el:.1f} FPS")
    try:
        nvc.SimpleDecoder("/etc/hostname", gpu_id=0, cuda_context=ctx.handle, cuda_stream=stream.handle)
    except Exception as exc:
        print("not a video ->", type(exc).__name__, str(exc)[:200])
    del sd
    ctx.pop()
    ctx.detach()
    return 0


if __name__ == "__main__":
    sys.exit(main())
