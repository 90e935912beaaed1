"""Playback ▸ Video Decoding (gui/decoding.py): the choice is kept, reaches the Player and
decides what really decodes the file; a fallback is said in one line, not in a dialog."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
from gui_fixtures import make_window, square_frames

from trt_viewer.gui.decoding import CHOICES, DECODING_LOGGER, decoding_notes
from trt_viewer.gui.worker import Worker
from trt_viewer.run.decoding import DECODE_CHOICES

TEXTS = ["Automatic", "CPU (Decoder Process)", "CPU (in the Viewer's Process)", "GPU (NVDEC)"]


class Workers:
    """A worker factory that keeps every worker it made (and so their specs and players)."""

    def __init__(self) -> None:
        self.made: list[Worker] = []

    def __call__(self, spec):  # -> Worker
        worker = Worker(spec)
        self.made.append(worker)
        return worker


def decoding_menu(window):  # -> QMenu
    playback = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Playback")
    return next(a.menu() for a in playback.actions() if a.menu() and "Decoding" in a.text())


def checked(window) -> list[str]:
    return [a.text().replace("&", "") for a in decoding_menu(window).actions() if a.isChecked()]


def choose(window, text: str) -> None:
    next(a for a in decoding_menu(window).actions() if a.text().replace("&", "") == text).trigger()


def looping(window):  # -> MainWindow
    """The window with Loop on: the 30-frame video never ends while a test waits for it to
    play (unpaced, it can be over before the window has taken a frame or two)."""
    window.actions_.loop.setChecked(True)
    return window


def opened(qtbot, window, workers: Workers, count: int) -> Worker:
    """The run `count` made, once it opened its source and plays."""
    qtbot.waitUntil(lambda: len(workers.made) == count and window.source_info is not None
                    and window.state == "playing", timeout=15000)
    return workers.made[-1]


def test_the_choice_is_offered_remembered_and_reaches_the_player(qtbot, gui_settings, gui_model, gui_video):
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    assert [a.text().replace("&", "") for a in decoding_menu(window).actions()] == TEXTS
    assert checked(window) == ["Automatic"]
    choose(window, "CPU (in the Viewer's Process)")
    assert "from the next start" in window.statusBar().currentMessage()
    assert checked(window) == ["CPU (in the Viewer's Process)"]
    assert window.shutdown(5000)

    second = looping(make_window(qtbot, gui_settings, workers))  # the next session
    assert checked(second) == ["CPU (in the Viewer's Process)"]
    second.set_model(str(gui_model))
    second.set_source(str(gui_video), start=True)
    worker = opened(qtbot, second, workers, 1)
    assert worker.player.options.decode == "thread"
    assert second.source_info.decoder == "cpu (thread)"  # what opened the file, not only what was asked
    assert second.shell.stats.decoder.text() == "CPU (viewer's process)"
    assert "Chosen: CPU (in the Viewer's Process)" in second.shell.stats.decoder.toolTip()
    assert second.shutdown(5000)


def test_a_new_choice_while_a_video_plays_opens_it_again_with_that_decoder(qtbot, gui_settings, gui_model,
                                                                           gui_video):
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    first = opened(qtbot, window, workers, 1)
    # Automatic with ONNX Runtime (frames in host memory): FFmpeg in a decoder process.
    assert first.player.options.decode == "auto"
    assert window.source_info.decoder == "cpu (process)"
    assert window.shell.stats.decoder.text() == "CPU (decoder process)"
    choose(window, "CPU (in the Viewer's Process)")
    second = opened(qtbot, window, workers, 2)
    assert first.isFinished()
    assert second.player.options.decode == "thread"
    assert window.source_info.decoder == "cpu (thread)"
    assert window.statusBar().currentMessage() == "squares.avi opened again, decoding: CPU (viewer's process)"
    assert gui_settings.decode() == "thread"
    assert window.shutdown(5000)


def test_a_source_that_is_no_video_file_goes_on_and_the_choice_waits(qtbot, gui_settings, gui_model, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for n, image in enumerate(square_frames(2)):
        cv2.imwrite(str(folder / f"{n}.png"), image)
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    window.set_model(str(gui_model))
    window.set_source(str(folder), start=True)
    qtbot.waitUntil(lambda: window.source_info is not None and window.state == "paused", timeout=15000)
    assert "whatever Playback ▸ Video Decoding says" in window.shell.stats.decoder.toolTip()
    choose(window, "GPU (NVDEC)")
    assert len(workers.made) == 1 and window.worker is workers.made[0]  # not opened again
    assert window.statusBar().currentMessage() == (
        "Video decoding: GPU (NVDEC), for the next video file (this source is no video file)")
    assert gui_settings.decode() == "nvdec"
    assert window.shutdown(5000)


def test_gpu_chosen_with_onnx_runtime_plays_on_the_cpu_and_says_why_in_the_status_bar(qtbot, gui_settings,
                                                                                     gui_model, gui_video):
    logger = logging.getLogger(DECODING_LOGGER)
    level = logger.level
    gui_settings.set_decode("nvdec")
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    shown: list[int] = []
    window.frameShown.connect(shown.append)
    assert checked(window) == ["GPU (NVDEC)"]
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    worker = opened(qtbot, window, workers, 1)
    assert worker.player.options.decode == "nvdec"
    why = "Decoding squares.avi on the CPU: this backend takes frames in host memory, not on the GPU"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == why, timeout=5000)
    qtbot.waitUntil(lambda: len(shown) >= 3, timeout=10000)  # it plays on, decoded another way
    assert window.messages.error_box is None and window.last_error == ""  # no dialog for it
    assert window.source_info.decoder == "cpu (process)"
    assert window.shell.stats.decoder.text() == "CPU (decoder process)"
    assert why in window.shell.stats.decoder.toolTip()
    assert window.shutdown(5000)
    assert logger.level == level  # the logger as it was once no run listens


def test_an_unknown_stored_choice_is_automatic(qtbot, gui_settings, gui_model, gui_video):
    gui_settings.set("playback/decode", "gpu")  # not a choice: an older or newer version, or a hand edit
    assert gui_settings.decode() == "auto"
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    assert checked(window) == ["Automatic"]
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    assert opened(qtbot, window, workers, 1).player.options.decode == "auto"
    assert window.shutdown(5000)


def test_decoding_notes_pass_this_sources_lines_and_tell_a_warning(tmp_path: Path):
    logger = logging.getLogger(DECODING_LOGGER)
    level = logger.level
    said: list[tuple[str, bool]] = []
    spec = str(tmp_path / "clip.mp4")
    with decoding_notes(spec, lambda line, warning: said.append((line, warning))):
        logger.info("decoding %s on the CPU: PyNvVideoCodec is not installed", spec)  # Automatic's fallback
        logger.warning("decoding %s in a thread: no decoder process could be started (no /dev/shm)", spec)
        logger.warning("decoding %s on the CPU: another run's file", spec + ".old")
    logger.info("decoding %s on the CPU: after the run", spec)
    assert said == [
        ("Decoding clip.mp4 on the CPU: PyNvVideoCodec is not installed", False),
        ("Decoding clip.mp4 in a thread: no decoder process could be started (no /dev/shm)", True),
    ]
    assert logger.level == level


def test_an_automatic_fallback_is_in_the_tooltip_not_the_status_bar(qtbot, gui_settings, gui_model, gui_video):
    workers = Workers()
    window = looping(make_window(qtbot, gui_settings, workers))
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    opened(qtbot, window, workers, 1)
    before = window.statusBar().currentMessage()
    window.run.decodingNote.emit("Decoding squares.avi on the CPU: PyNvVideoCodec is not installed", False)
    assert window.statusBar().currentMessage() == before
    assert "PyNvVideoCodec is not installed" in window.shell.stats.decoder.toolTip()
    assert window.shutdown(5000)


def test_the_menu_offers_what_run_decoding_takes_and_each_is_kept(gui_settings):
    assert [value for value, _, _ in CHOICES] == list(DECODE_CHOICES)
    for choice in DECODE_CHOICES:
        gui_settings.set_decode(choice)
        assert gui_settings.decode() == choice
