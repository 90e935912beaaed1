import pytest
from modelgen import yolox_model

from trt_viewer.backends import open_backend
from trt_viewer.core.names import COCO_CLASSES, parse_names, resolve_names
from trt_viewer.errors import InputError
from trt_viewer.run.detector import Detector


def test_coco_for_80_classes(models):
    with open_backend(models["coco"]) as b:
        d = Detector(b)
        assert d.names == list(COCO_CLASSES) and d.names[16] == "dog" and d.names_source == "COCO"


def test_class_n_when_nothing_is_known(models):
    with open_backend(models["raw"]) as b:
        assert Detector(b).names == ["class_0", "class_1"]


def test_sidecar_beats_metadata_and_coco(tmp_path):
    model = yolox_model(tmp_path / "m.onnx", num_classes=80, metadata={"names": '["x", "y"]'})
    with open_backend(model) as b:
        assert Detector(b).names == ["x", "y"]  # metadata beats the COCO guess
    (tmp_path / "m.names").write_text("apple\nbanana\n\n")
    with open_backend(model) as b:
        d = Detector(b)
        assert d.names == ["apple", "banana"] and d.names_source.endswith("m.names")


def test_classes_txt_next_to_the_model(tmp_path):
    model = yolox_model(tmp_path / "m.onnx")
    (tmp_path / "classes.txt").write_text("ball\nbox\n")
    with open_backend(model) as b:
        assert Detector(b).names == ["ball", "box"]


def test_names_flag_beats_everything(tmp_path):
    model = yolox_model(tmp_path / "m.onnx")
    (tmp_path / "m.names").write_text("a\nb\n")
    flag = tmp_path / "mine.txt"
    flag.write_text("left\nright\n")
    with open_backend(model) as b:
        assert Detector(b, names_file=flag).names == ["left", "right"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{0: 'person', 1: 'car'}", ["person", "car"]),  # Ultralytics
        ('["a", "b"]', ["a", "b"]),
        ('{"0": "a", "1": "b"}', ["a", "b"]),
        ("ball, box , ring", ["ball", "box", "ring"]),
        ("{1: 'gap'}", None),
        ("", None),
    ],
)
def test_metadata_formats(text, expected):
    assert parse_names(text) == expected


def test_empty_names_file_is_an_error(tmp_path):
    f = tmp_path / "e.names"
    f.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        resolve_names(None, None, 2, f)
