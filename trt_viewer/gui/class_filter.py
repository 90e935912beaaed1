"""Which classes to keep: a checkable list with a search box, All and None."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ID_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class ClassFilter(QWidget):
    classesChanged = Signal(object)  # frozenset of kept class ids, or None for all

    def __init__(self) -> None:
        super().__init__()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Search classes…")
        self.filter.setClearButtonEnabled(True)
        self.classes = QListWidget()
        self.classes.setUniformItemSizes(True)
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.summary = QLabel("No model loaded")
        self.summary.setObjectName("muted")
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.all_button)
        buttons.addWidget(self.none_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self.filter)
        column.addWidget(self.classes, 1)
        column.addLayout(buttons)
        self._last: frozenset[int] | None = None
        self.filter.textChanged.connect(self._filter)
        self.classes.itemChanged.connect(self._changed)
        self.all_button.clicked.connect(lambda: self._check_all(True))
        self.none_button.clicked.connect(lambda: self._check_all(False))

    def set_names(self, names: list[str]) -> None:
        """A new model's classes, all kept: the selection belongs to the model it was made for."""
        if [self.classes.item(i).data(NAME_ROLE) for i in range(self.classes.count())] == names:
            return
        self.classes.blockSignals(True)
        self.classes.clear()
        for cid, name in enumerate(names):
            item = QListWidgetItem(f"{cid:>3}  {name}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(ID_ROLE, cid)
            item.setData(NAME_ROLE, name)
            self.classes.addItem(item)
        self.classes.blockSignals(False)
        self._filter(self.filter.text())
        self._changed()

    def checked_classes(self) -> frozenset[int] | None:
        """None when every class is kept, so the detector skips filtering altogether."""
        ids = [
            int(self.classes.item(i).data(ID_ROLE))
            for i in range(self.classes.count())
            if self.classes.item(i).checkState() == Qt.CheckState.Checked
        ]
        return None if len(ids) == self.classes.count() else frozenset(ids)

    def set_class_checked(self, class_id: int, checked: bool) -> None:
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            if item.data(ID_ROLE) == class_id:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _check_all(self, checked: bool) -> None:
        # Acts on the classes the search shows, so typing "car" then All adds the cars
        # back without touching the rest of the selection.
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.classes.blockSignals(True)
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            if not item.isHidden():
                item.setCheckState(state)
        self.classes.blockSignals(False)
        self._changed()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def _changed(self, *_: object) -> None:
        total = self.classes.count()
        classes = self.checked_classes()
        kept = total if classes is None else len(classes)
        self.summary.setText(f"{kept} of {total} kept" if total else "No model loaded")
        if classes != self._last:
            self._last = classes
            self.classesChanged.emit(classes)
