"""Menus that fill themselves when opened: recent files (checked to still exist) and cameras;
and the menus added to the shell's: Model, Playback ▸ Each Image and Video Decoding, Help ▸ Demo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from trt_viewer.gui.cameras import CameraList
from trt_viewer.gui.files import display_name

if TYPE_CHECKING:
    from trt_viewer.gui.actions import Actions
    from trt_viewer.gui.choosing import Chooser


def _short(path: str) -> str:
    """Name, then the folder it is in: enough to tell two people.mp4 apart."""
    p = Path(path)
    if not p.parent.name:
        return display_name(path)
    return f"{display_name(path)}  —  {p.parent}"


class RecentMenu(QMenu):
    def __init__(self, title: str, items: Callable[[], list[str]], choose: Callable[[str], object],
                 clear: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._items = items
        self._choose = choose
        self._clear = clear
        self.aboutToShow.connect(self.fill)

    def fill(self) -> None:
        self.clear()
        items = self._items()
        for n, item in enumerate(items, 1):
            text = f"&{n % 10}  {_short(item)}" if n <= 10 else _short(item)
            action = self.addAction(text)
            action.setToolTip(item)
            action.triggered.connect(lambda _=False, i=item: self._choose(i))
        if not items:
            self.addAction("No recent files").setEnabled(False)
        else:
            self.addSeparator()
            self.addAction("Clear Recent Files").triggered.connect(self._clear)


class CameraMenu(QMenu):
    """Cameras found on this machine; looks again each time it opens."""

    def __init__(self, cameras: CameraList, choose: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__("&Camera", parent)
        self._cameras = cameras
        self._choose = choose
        self.aboutToShow.connect(self._cameras.refresh)
        self._cameras.changed.connect(self._fill)
        self._fill(cameras.cameras)

    def _fill(self, cameras: list[tuple[int, str]]) -> None:
        self.clear()
        for index, name in cameras:
            action = self.addAction(f"{name}  (index {index})")
            action.triggered.connect(lambda _=False, i=index: self._choose(str(i)))
        if not cameras:
            text = "No camera found" if self._cameras.searched else "Looking for cameras…"
            self.addAction(text).setEnabled(False)
        self.addSeparator()
        self.addAction("Camera by Index…").triggered.connect(lambda: self._choose(""))


def source_menu(actions: list[QAction], cameras: CameraMenu, recent: RecentMenu, parent: QWidget) -> QMenu:
    menu = QMenu(parent)
    for action in actions:
        menu.addAction(action)
    menu.addSeparator()
    menu.addMenu(cameras)
    menu.addMenu(recent)
    return menu


def _menu_holding(bar: QMenuBar, action: QAction) -> QMenu | None:
    """The menu of the bar that holds `action`."""
    for item in bar.actions():
        menu = item.menu()
        if isinstance(menu, QMenu) and action in menu.actions():
            return menu
    return None


def install_menus(bar: QMenuBar, actions: Actions, chooser: Chooser, each_image: QMenu, video_decoding: QMenu,
                  demo: QAction) -> None:
    """What the shell's menus lack: Model (open, recent, class names) after File; Playback ▸
    Each Image after Real-time, then Video Decoding; Help ▸ Demo first in Help."""
    model = QMenu("&Model", bar)
    model.addAction(actions.open_model)
    model.addMenu(chooser.recent_models)
    model.addSeparator()
    model.addAction(chooser.names_action)
    model.addAction(chooser.own_names_action)
    playback = _menu_holding(bar, actions.realtime)
    if playback is not None:
        bar.insertMenu(playback.menuAction(), model)
        entries = playback.actions()
        after = entries.index(actions.realtime) + 1
        for menu in (each_image, video_decoding):
            if after < len(entries):
                playback.insertMenu(entries[after], menu)
            else:
                playback.addMenu(menu)
    else:
        bar.addMenu(model)
    help_menu = _menu_holding(bar, actions.shortcuts)
    if help_menu is None:
        help_menu = bar.addMenu("&Help")
    first = help_menu.actions()[0] if help_menu.actions() else None
    if first is not None:
        help_menu.insertAction(first, demo)
        help_menu.insertSeparator(first)
    else:
        help_menu.addAction(demo)
