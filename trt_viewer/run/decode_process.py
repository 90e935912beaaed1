"""Video files decoded in a process of their own, frames handed over in shared memory.

Why a process: a decoding thread in the player's process lets go of the GIL while FFmpeg
decodes and must take it back for every frame. While the player's thread runs Python (the
loop, decode and NMS, the sink) that takes up to the interpreter's switch interval, so on
1080p H.264 a reader thread took 3-5 ms per frame against 1.1 ms for decoding alone
(docs/performance.md, "Real video"). Here a child process decodes into a ring of frame
slots in shared memory and the player's thread takes each decoded frame itself, with no
thread of ours waiting for the GIL in between; the child never needs the parent's GIL.

The child is a plain `python -m trt_viewer.run.decode_process` (not multiprocessing's:
that would run the parent's main script again in the child, and print a traceback into
the user's terminal when the parent is interrupted while a child starts), in a session of
its own so a Ctrl+C in the terminal reaches only the parent, which stops it. It talks
over a socket pair: the parent sends the source, then credits for free slots, seeks and
stop; the child sends what it opened, then one small message per slot it wrote. It exits
when the socket closes, so a parent killed outright leaves no child behind.

The ring: `slots` frames of the first frame's size in a file in /dev/shm (the temporary
folder elsewhere) that both processes map and the parent deletes as soon as the child has
mapped it, so nothing is left on disk even if both are killed. The child writes slots in
order; the parent gives them back in order (a frame holds its slot until it is settled,
core.sources.Frame.settle). A frame of another size than the first (a stream that changes
resolution) travels through the socket instead.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from trt_viewer.core.sources import IMAGE_EXTENSIONS, URL_PATTERN, CaptureSource, Frame, Source, open_source
from trt_viewer.errors import InputError, first_line

LOGGER = logging.getLogger(__name__)

POLL_S = 0.05  # how often blocked waits look at the other process
START_TIMEOUT_S = 60.0  # the child imports numpy and OpenCV, then opens the file
RING_BYTES = 256 << 20  # at most this much shared memory per ring...
MIN_SLOTS, MAX_SLOTS = 4, 12  # ...but never fewer slots than this
HELD_TIMEOUT_S = 30.0  # read() waits this long for a slot lent out (to a writer thread) to come back
# Cores left to this process's player thread, its CUDA wait and OpenCV's copy, where FFmpeg
# would otherwise start a decoding thread per core: on the H200's 16 cores, 12 threads
# decoded as fast alone and let the pipeline reach 0.97 of it, against 0.93 (docs/performance.md).
SPARE_CORES, SPARE_FROM = 4, 12


def default_decode_threads(cores: int | None = None) -> int | None:
    """FFmpeg's decoding threads in the child where not stated: all but SPARE_CORES on a
    machine of SPARE_FROM cores or more; elsewhere OpenCV's choice (None)."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return cores - SPARE_CORES if cores >= SPARE_FROM else None
PAGE = 4096
FRAME, PIPED, END, ERROR = "frame", "piped", "end", "error"  # what a slot holds


class DecoderProcessUnavailable(Exception):
    """No decoder process can be started here (no shared memory, a frozen app, Windows...)."""


class Ring:
    """The shared frame slots, mapped from a file."""

    def __init__(self, path: str, slots: int, slot_bytes: int, create: bool) -> None:
        self.path, self.slots, self.slot_bytes = path, slots, slot_bytes
        self.stride = -(-slot_bytes // PAGE) * PAGE
        fd = os.open(path, os.O_RDWR)
        try:
            if create:
                os.ftruncate(fd, slots * self.stride)
                if hasattr(os, "posix_fallocate"):
                    # Claimed now: writing into a sparse file in a full /dev/shm (64 MB in a
                    # default Docker container) would kill the writer with SIGBUS instead.
                    os.posix_fallocate(fd, 0, slots * self.stride)
            self._map = mmap.mmap(fd, slots * self.stride)
        finally:
            os.close(fd)
        self._frames = np.frombuffer(self._map, np.uint8)

    @classmethod
    def create(cls, slots: int, slot_bytes: int) -> Ring:
        """In /dev/shm (memory), else, or where it has no room, in the temporary folder
        (a file the page cache holds, deleted at once)."""
        folders: list[str | None] = [None]
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            folders.insert(0, "/dev/shm")
        for folder in folders:
            fd, path = tempfile.mkstemp(prefix="trt-viewer-frames-", dir=folder)
            os.close(fd)
            try:
                return cls(path, slots, slot_bytes, create=True)
            except OSError:
                Path(path).unlink(missing_ok=True)
                if folder is None:
                    raise
            except BaseException:
                Path(path).unlink(missing_ok=True)
                raise
        raise AssertionError("unreachable")

    def slot(self, k: int, hw: tuple[int, int]) -> np.ndarray:
        h, w = hw
        start = k * self.stride
        return self._frames[start:start + h * w * 3].reshape(h, w, 3)

    def unlink(self) -> None:
        Path(self.path).unlink(missing_ok=True)

    def close(self) -> None:
        """Let go of the mapping: it is unmapped once no frame view is left (a view still
        held keeps it alive, instead of the close failing)."""
        self._frames = np.empty(0, np.uint8)
        self.__dict__.pop("_map", None)


# -- the child ------------------------------------------------------------------------------
class _Child:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.credits = 0  # free slots the parent has given back
        self.generation = 0  # seeks done: the parent drops slots decoded before its last seek
        self.ended = False

    def send(self, *message: Any) -> None:
        self.conn.send(message)

    def handle(self, timeout: float, source: CaptureSource) -> bool:
        """Take the parent's messages (waiting up to `timeout` for the first); False on stop."""
        while self.conn.poll(timeout):
            timeout = 0.0
            message = self.conn.recv()
            if message[0] == "free":
                self.credits += message[1]
            elif message[0] == "seek":
                source.seek(message[1])
                self.generation, self.ended = message[2], False
            else:  # "stop"
                return False
        return True

    def run(self) -> None:
        _, spec, decode_threads = self.conn.recv()
        try:
            source = open_source(spec, decode_threads)
        except InputError as exc:
            self.send(ERROR, str(exc))
            return
        except Exception as exc:
            self.send(ERROR, f"cannot open {spec}: {first_line(exc)}")
            return
        with source:
            if not isinstance(source, CaptureSource) or source.live:
                self.send(ERROR, f"{spec} is not a video file")
                return
            self.send("opened", source.length, source.fps, source.seekable, source.first_hw)
            message = self.conn.recv()
            if message[0] != "ring":
                return
            _, path, slots, slot_bytes = message
            ring = Ring(path, slots, slot_bytes, create=False)
            try:
                self.send("mapped")
                self.decode(source, ring)
            finally:
                ring.close()

    def decode(self, source: CaptureSource, ring: Ring) -> None:
        hw, written = source.first_hw, 0
        while self.handle(POLL_S if self.ended or not self.credits else 0.0, source):
            if self.ended or not self.credits:
                continue
            k = written % ring.slots
            view = ring.slot(k, hw)
            try:
                frame = source.read_into(view)
            except Exception as exc:  # reading a file raises nothing else in practice
                self.send(ERROR, f"cannot decode {source.spec}: {first_line(exc)}", self.generation)
                self.ended = True
                continue
            self.credits -= 1
            written += 1
            if frame is None:
                self.send(END, source.shortfall, self.generation)
                self.ended = True
                continue
            image = frame.image
            fh, fw = image.shape[:2]
            in_slot = image is view  # OpenCV decoded into the slot (a frame of the first one's size)
            if not in_slot and image.nbytes <= ring.slot_bytes:
                np.copyto(ring.slot(k, (fh, fw)), image)
                in_slot = True
            if in_slot:
                self.send(FRAME, frame.index, frame.timestamp, self.generation, (fh, fw))
            else:  # too large for a slot
                self.send(PIPED, frame.index, frame.timestamp, self.generation, image)


def _child_main(fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends
    conn = Connection(fd)
    try:
        _Child(conn).run()
    except (EOFError, OSError):  # the parent is gone, or closed the socket
        pass
    finally:
        conn.close()


# -- the parent -----------------------------------------------------------------------------
class _Slot:
    """A frame's slot of the ring, lent until the frame is settled."""

    def __init__(self, source: ProcessSource, seq: int, view: np.ndarray) -> None:
        self.source, self.seq, self.view = source, seq, view

    def pixels(self) -> np.ndarray:
        return np.array(self.view)

    def scaled(self, wh: tuple[int, int]) -> np.ndarray:
        return cv2.resize(self.view, wh, interpolation=cv2.INTER_LINEAR)  # a new array: the slot stays the ring's

    def give_back(self) -> None:
        self.view = np.empty(0, np.uint8)
        self.source._give_back(self.seq)


def _start(fd: int) -> subprocess.Popen[bytes]:
    if os.name != "posix":
        raise DecoderProcessUnavailable("decoder processes are made on Linux and macOS only")
    if getattr(sys, "frozen", False):
        raise DecoderProcessUnavailable("a frozen application cannot start Python")
    debug = bool(os.environ.get("TRT_VIEWER_DEBUG"))
    # The child imports trt_viewer from where this process does (a checkout, a script that
    # put its folder first on sys.path), not only from what the environment would give it.
    path = os.pathsep.join(p for p in [*sys.path, os.environ.get("PYTHONPATH", "")] if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "trt_viewer.run.decode_process", str(fd)],
            pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL,  # errors come back as messages
            start_new_session=True,  # Ctrl+C in the terminal is the parent's to handle
            env={**os.environ, "PYTHONPATH": path},
        )
    except OSError as exc:
        raise DecoderProcessUnavailable(first_line(exc)) from None


class ProcessSource(Source):
    """A video file decoded by a child process (see the module's docstring)."""

    decoded_elsewhere = True
    decoder = "cpu (process)"

    def __init__(self, spec: str, decode_threads: int | None = None) -> None:
        super().__init__(spec)
        self._closed = False
        self._ring: Ring | None = None
        ours, theirs = socket.socketpair()
        try:
            self._process = _start(theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        try:
            try:
                threads = decode_threads if decode_threads is not None else default_decode_threads()
                self._conn.send(("open", spec, threads))
                reply = self._receive(START_TIMEOUT_S)
            except (InputError, OSError):  # no word from it: it cannot start here
                try:
                    code: int | None = self._process.wait(1.0)  # its socket closed: it is ending
                except subprocess.TimeoutExpired:
                    code = None
                if code is None:
                    raise DecoderProcessUnavailable(f"it did not answer in {START_TIMEOUT_S:.0f} s") from None
                raise DecoderProcessUnavailable(f"it exited at start, code {code}") from None
            if reply[0] == ERROR:
                raise InputError(reply[1])
            _, self.length, self.fps, self.seekable, self.hw = reply
            h, w = self.hw
            slot_bytes = h * w * 3
            slots = max(MIN_SLOTS, min(MAX_SLOTS, RING_BYTES // max(1, slot_bytes)))
            try:
                self._ring = Ring.create(slots, slot_bytes)
            except OSError as exc:
                raise DecoderProcessUnavailable(f"no shared memory for the frames: {first_line(exc)}") from None
            self._conn.send(("ring", self._ring.path, slots, slot_bytes))
            self._receive(START_TIMEOUT_S)
            self._ring.unlink()  # both have it mapped: the memory lives as long as the mappings
            self._conn.send(("free", slots))
        except BaseException:
            self.close()
            raise
        self._generation = 0
        self._read_seq = 0  # slots read, counted from the start
        self._free_seq = 0  # the oldest slot not yet given back
        self._returned: set[int] = set()
        # Slots come back from other threads where frames are lent on (a video writer).
        self._slots_back = threading.Condition()
        self._ended = False
        self._shortfall = 0

    def _stopped(self) -> InputError:
        code = self._process.poll()
        return InputError(f"the decoder process for {self.spec} stopped (exit code {code})")

    def _receive(self, timeout: float | None = None) -> tuple[Any, ...]:
        waited = 0.0
        while not self._conn.poll(POLL_S):
            waited += POLL_S
            if self._process.poll() is not None or (timeout is not None and waited >= timeout):
                raise self._stopped()
        try:
            reply: tuple[Any, ...] = self._conn.recv()
        except (OSError, EOFError):
            raise self._stopped() from None
        return reply

    def poll(self, timeout: float = 0.0) -> bool:
        if self._ended or self._closed:
            return True
        try:
            return self._conn.poll(timeout) or self._process.poll() is not None
        except OSError:
            return True

    def read(self) -> Frame | None:
        while not (self._ended or self._closed):
            self._wait_for_a_slot()
            message = self._receive()
            kind, generation = message[0], message[-2 if message[0] in (FRAME, PIPED) else -1]
            seq = self._read_seq
            if kind != ERROR:
                self._read_seq += 1
            if generation != self._generation:  # decoded before the last seek
                if kind != ERROR:
                    self._give_back(seq)
                continue
            if kind == ERROR:
                self._ended, self.end_reason = True, "ended"
                raise InputError(message[1])
            if kind == END:
                self._give_back(seq)
                self._ended, self._shortfall, self.end_reason = True, int(message[1]), "ended"
                return None
            self.frames_read += 1
            index, stamp = int(message[1]), float(message[2])
            if kind == PIPED:
                self._give_back(seq)
                return Frame(index, message[4], self.spec, stamp)
            assert self._ring is not None
            view = self._ring.slot(seq % self._ring.slots, message[4])
            return Frame(index, view, self.spec, stamp, lender=_Slot(self, seq, view))
        return None

    def _wait_for_a_slot(self) -> None:
        """With every slot lent out nothing can be decoded: wait for one to come back from
        the thread holding it; a wait that never ends is a frame nobody settles."""
        assert self._ring is not None
        slots = self._ring.slots
        with self._slots_back:
            if self._read_seq - self._free_seq < slots or self._conn.poll(0):
                return
            if not self._slots_back.wait_for(lambda: self._read_seq - self._free_seq < slots, HELD_TIMEOUT_S):
                raise RuntimeError(f"all {slots} frame slots are held: frames read were never settled")

    def _give_back(self, seq: int) -> None:
        """Slots go back in the order they were written (the child reuses the oldest)."""
        with self._slots_back:
            self._returned.add(seq)
            freed = 0
            while self._free_seq in self._returned:
                self._returned.discard(self._free_seq)
                self._free_seq += 1
                freed += 1
            if freed and not self._closed:
                try:
                    self._conn.send(("free", freed))
                except OSError:  # the child is gone: read() says so
                    pass
                self._slots_back.notify_all()

    def seek(self, index: int) -> None:
        if not self.seekable:
            super().seek(index)
        self._generation += 1
        self._conn.send(("seek", index, self._generation))
        self._ended, self.end_reason, self._shortfall = False, "", 0

    @property
    def shortfall(self) -> int:
        return self._shortfall

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._conn.send(("stop",))
        except OSError:
            pass
        self._conn.close()  # the child also ends when it sees the socket closed
        try:
            self._process.wait(1.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._ring is not None:
            self._ring.unlink()
            self._ring.close()


def decodes_in_process(spec: str) -> bool:
    """Whether `spec` is a local video file (not a URL, camera, folder or image)."""
    spec = spec.strip()
    if not spec or URL_PATTERN.match(spec):
        return False
    path = Path(spec).expanduser()
    try:
        return path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
