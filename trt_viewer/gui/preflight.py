"""Checks before Qt starts: Qt aborts the process (no exception, no message worth reading)
when there is no display or when the xcb plugin's system libraries are missing, so these
become one-line errors that say what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from trt_viewer.errors import TrtViewerError

# Shared library (as ldconfig names it) -> the Debian/Ubuntu package that provides it.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def _platform() -> str:
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen:
        return chosen
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb" if os.environ.get("DISPLAY") else ""


def installed_libraries() -> set[str] | None:
    """Names ldconfig knows; None where there is no ldconfig to ask."""
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig is None:
        return None
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}


def missing_packages(installed: set[str]) -> list[str]:
    return [package for lib, package in XCB_LIBRARIES.items() if lib not in installed]


def check_display() -> None:
    if not sys.platform.startswith("linux"):
        return
    platform = _platform()
    if not platform:
        raise TrtViewerError(
            "no display: the viewer window needs a desktop session (DISPLAY or WAYLAND_DISPLAY is "
            "not set); for headless work use `trt-viewer run`"
        )
    if platform != "xcb":
        return
    installed = installed_libraries()
    missing = missing_packages(installed) if installed is not None else []
    if missing:
        raise TrtViewerError(
            "the Qt desktop libraries are missing; install them with: "
            f"sudo apt-get install {' '.join(missing)}"
        )
