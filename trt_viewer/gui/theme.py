"""A dark Fusion theme: video reads best on a dark frame, and it looks the same on every
desktop (the painted icons assume light ink on dark)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = "#1e2025"
BASE = "#16181c"
ALT = "#1b1d22"
TEXT = "#e6e6e6"
MUTED = "#8b8f98"
ACCENT = "#3d8bfd"

STYLE = f"""
QMainWindow::separator {{ background: #2a2d34; width: 1px; height: 1px; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: #24272d; padding: 5px 8px; }}
QGroupBox {{ border: 1px solid #2e323a; border-radius: 6px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {MUTED}; }}
QLabel#muted {{ color: {MUTED}; }}
QToolBar {{ border: none; spacing: 4px; padding: 3px; background: {WINDOW}; }}
QToolButton {{ padding: 4px 6px; border-radius: 5px; }}
QToolButton:hover {{ background: #2c3038; }}
QToolButton:checked {{ background: #3a2226; }}
QToolButton[popupMode="1"] {{ padding-right: 18px; }}
QToolButton::menu-button {{ border: none; border-left: 1px solid #30343c; width: 16px; }}
QToolButton::menu-button:hover {{ background: #343842; }}
QWidget#transport {{ background: #191b20; border-top: 1px solid #2a2d34; }}
QStatusBar {{ background: #191b20; border-top: 1px solid #2a2d34; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QTableWidget {{ border: none; }}
QHeaderView::section {{ background: #24272d; border: none; padding: 3px 6px; color: {MUTED}; }}
QCheckBox::indicator, QListView::indicator {{
    width: 13px; height: 13px; border: 1px solid #5d636e; border-radius: 3px; background: {BASE};
}}
QCheckBox::indicator:hover, QListView::indicator:hover {{ border-color: {ACCENT}; }}
QCheckBox::indicator:checked, QListView::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QCheckBox::indicator:disabled {{ border-color: #3a3f4b; }}
QListView::item {{ padding: 2px 2px; }}
QListView::indicator {{ margin-right: 4px; }}
QSlider::groove:horizontal {{ height: 4px; background: #3a3f4b; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: #f0f0f0; width: 12px; height: 12px; margin: -4px 0; border-radius: 6px; }}
QSlider::handle:horizontal:disabled {{ background: #555; }}
QSlider::sub-page:horizontal:disabled {{ background: #3a3f4b; }}
"""


def apply(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW, QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE, QPalette.ColorRole.AlternateBase: ALT,
        QPalette.ColorRole.ToolTipBase: "#2a2d34", QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: "#2a2d34",
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: ACCENT, QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT, QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#666a73"))
    app.setPalette(p)
    app.setStyleSheet(STYLE)
