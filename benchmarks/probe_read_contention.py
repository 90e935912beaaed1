"""Why does reading a video get slower inside the pipeline? One reader thread decodes the
file (as FrameReader does) while the main thread does one kind of work; the reader's p50
read time under each shows what slows the decoder down.

  idle        the main thread sleeps
  python      a pure-Python loop (holds the GIL, lets go every switch interval)
  numpy       numpy work on 1080p arrays (releases the GIL inside most calls)
  cuda_sync   a 1 ms GPU kernel waited for with an event's synchronize() (pycuda)
  cuda_query  the same, polling event.query() with short sleeps

    python3 benchmarks/probe_read_contention.py .gpudata/media/people_1080p.mp4
"""

from __future__ import annotations

import json
import sys
import threading
import time

import cv2
import numpy as np

SPIN = """
__global__ void spin(long long ns) {
    long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
}
"""


def reader(path: str, frames: int, times: list[float], done: threading.Event) -> None:
    cap = cv2.VideoCapture(path)
    for _ in range(frames):
        t0 = time.perf_counter()
        ok, _ = cap.read()
        if not ok:
            break
        times.append(time.perf_counter() - t0)
    cap.release()
    done.set()


def main() -> None:
    path = sys.argv[1]
    loads = {}

    def idle(done: threading.Event) -> None:
        done.wait()

    def python(done: threading.Event) -> None:
        n = 0
        while not done.is_set():
            for i in range(10000):
                n += i

    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), np.uint8)

    def numpy_work(done: threading.Event) -> None:
        out = np.empty_like(frame)
        while not done.is_set():
            np.copyto(out, frame)
            out.sum()

    loads.update(idle=idle, python=python, numpy=numpy_work)
    try:
        import pycuda.driver as cuda

        cuda.init()
        ctx = cuda.Device(0).retain_primary_context()
        ctx.push()
        from pycuda.compiler import SourceModule

        spin = SourceModule(SPIN).get_function("spin")
        stream = cuda.Stream()
        event = cuda.Event()

        def launch() -> None:
            spin(np.int64(1_000_000), block=(1, 1, 1), grid=(1, 1), stream=stream)

        def cuda_sync(done: threading.Event) -> None:
            while not done.is_set():
                launch()
                event.record(stream)
                event.synchronize()

        def cuda_query(done: threading.Event) -> None:
            while not done.is_set():
                launch()
                event.record(stream)
                while not event.query():
                    time.sleep(0.0002)

        loads.update(cuda_sync=cuda_sync, cuda_query=cuda_query)
    except Exception as exc:  # no GPU here
        print(f"no CUDA loads: {exc}")
    results = {}
    for name, load in loads.items():
        times: list[float] = []
        done = threading.Event()
        t = threading.Thread(target=reader, args=(path, 400, times, done))
        start = time.perf_counter()
        t.start()
        load(done)
        t.join()
        wall = time.perf_counter() - start
        p50, p95 = np.percentile(np.array(times) * 1e3, [50, 95])
        results[name] = {"read_p50_ms": round(float(p50), 3), "read_p95_ms": round(float(p95), 3),
                         "fps": round(len(times) / wall, 1)}
        print(name, results[name], flush=True)
    print(json.dumps(results))
    if "cuda_sync" in loads:
        import pycuda.driver as cuda

        cuda.Context.pop()


if __name__ == "__main__":
    main()
