import json
import logging
import sys

import modelgen
import pytest
from modelgen import square_image, yolox_model

from trt_viewer.backends import open_backend
from trt_viewer.backends.onnxruntime import graph_class_count
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.backends.trt.plan import read_engine_file
from trt_viewer.core.names import COCO_CLASSES, parse_names, read_names_file, resolve_names
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


# -- names files: a line's position is its class id --------------------------------------

NAMES_LOGGER = "trt_viewer.core.names"


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_blank_line_keeps_its_slot(models, tmp_path):
    """One blank line among COCO's names must not shift dog to "horse", truck to "boat"."""
    names = list(COCO_CLASSES)
    names[3] = ""  # motorcycle left out
    flag = tmp_path / "coco.txt"
    flag.write_text("\n".join(names) + "\n")
    with open_backend(models["coco"]) as b:
        d = Detector(b, names_file=flag)
    assert len(d.names) == 80 and d.label(3) == "class_3"
    assert d.label(16) == "dog" and d.label(7) == "truck" and d.label(79) == "toothbrush"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a\nb\n", ["a", "b"]),  # a final newline is no slot
        ("a\nb", ["a", "b"]),
        ("a\nb\n\n\n  \n", ["a", "b"]),  # nor are several blank lines at the end
        ("a\n\nc\n", ["a", "class_1", "c"]),
        ("\nb\n", ["class_0", "b"]),
        ("a\n   \nc", ["a", "class_1", "c"]),  # only spaces: blank
        ("a\r\nb\r\n\r\nd\r\n", ["a", "b", "class_2", "d"]),  # Windows line ends
        ("a\rb\r", ["a", "b"]),  # old Mac line ends
        ("\ufeffperson\ncar\n", ["person", "car"]),  # a UTF-8 byte order mark
        ("  traffic light \t\nstop sign\n", ["traffic light", "stop sign"]),
    ],
)
def test_names_file_lines(tmp_path, text, expected):
    f = tmp_path / "n.names"
    f.write_bytes(text.encode("utf-8"))
    assert read_names_file(f) == expected


def test_byte_order_mark_from_a_windows_editor(tmp_path):
    f = tmp_path / "n.names"
    f.write_text("person\r\nbicycle\r\n", encoding="utf-8-sig")
    names, _ = resolve_names(None, None, 2, f)
    assert names == ["person", "bicycle"]


def test_only_blank_lines_is_empty(tmp_path):
    f = tmp_path / "e.names"
    f.write_text("\ufeff  \r\n\ufeff\n\n")
    with pytest.raises(InputError, match="empty"):
        read_names_file(f)


def test_fewer_names_than_classes_warns_once(models, tmp_path, caplog):
    flag = tmp_path / "short.txt"
    flag.write_text("\n".join(COCO_CLASSES[:79]) + "\n")
    caplog.set_level(logging.WARNING, NAMES_LOGGER)
    with open_backend(models["coco"]) as b:
        d = Detector(b, names_file=flag)
    assert d.label(79) == "class_79"
    assert _warnings(caplog) == [
        f"class names file {flag} has 79 names but the model has 80 classes; "
        "class 79 will be labelled class_N"
    ]


def test_more_names_than_classes_warns(models, tmp_path, caplog):
    (tmp_path / "raw.names").write_text("a\nb\nc\nd\n")
    model = modelgen.yolox_model(tmp_path / "raw.onnx")
    caplog.set_level(logging.WARNING, NAMES_LOGGER)
    with open_backend(model) as b:
        assert Detector(b).names == ["a", "b", "c", "d"]
    [message] = _warnings(caplog)
    assert str(tmp_path / "raw.names") in message and "has 4 names but the model has 2 classes" in message
    assert "the last 2 names are not used" in message


def test_as_many_names_as_classes_is_silent(models, tmp_path, caplog):
    flag = tmp_path / "two.txt"
    flag.write_text("a\n\n")  # the blank line at the end is no slot: one name short of two
    caplog.set_level(logging.WARNING, NAMES_LOGGER)
    resolve_names(None, None, 1, flag)
    flag.write_text("a\n\nc\n")
    resolve_names(None, None, 3, flag)
    assert _warnings(caplog) == []


def test_metadata_names_of_another_length_warn(tmp_path, caplog):
    caplog.set_level(logging.WARNING, NAMES_LOGGER)
    names, source = resolve_names(None, {"names": '["x", "y"]'}, 80)
    assert names == ["x", "y"] and source == "model metadata 'names'"
    assert _warnings(caplog) == [
        "the model's metadata 'names' has 2 names but the model has 80 classes; "
        "classes 2 to 79 will be labelled class_N"
    ]


# -- sidecars ----------------------------------------------------------------------------


def test_model_classes_txt_sidecar(tmp_path):
    model = modelgen.yolox_model(tmp_path / "m.onnx")
    (tmp_path / "classes.txt").write_text("folder\nwide\n")
    (tmp_path / "m.classes.txt").write_text("ball\nbox\n")
    with open_backend(model) as b:
        d = Detector(b)
        assert d.names == ["ball", "box"] and d.names_source == str(tmp_path / "m.classes.txt")
    (tmp_path / "m.names").write_text("apple\nbanana\n")
    with open_backend(model) as b:
        assert Detector(b).names == ["apple", "banana"]  # <model>.names first
    flag = tmp_path / "flag.txt"
    flag.write_text("left\nright\n")
    with open_backend(model) as b:
        assert Detector(b, names_file=flag).names == ["left", "right"]


def test_classes_txt_sidecar_beats_metadata(tmp_path):
    model = modelgen.yolox_model(tmp_path / "m.onnx", num_classes=80, metadata={"names": '["x", "y"]'})
    (tmp_path / "m.classes.txt").write_text("\n".join(COCO_CLASSES))
    with open_backend(model) as b:
        d = Detector(b)
    assert d.names == list(COCO_CLASSES) and d.names_source.endswith("m.classes.txt")


# -- end-to-end models: the class count from the graph or the metadata -------------------


@pytest.fixture(scope="module")
def nms_model(tmp_path_factory):
    return modelgen.nms_model(tmp_path_factory.mktemp("nms") / "nms.onnx")


def test_end2end_model_with_nms_node_gets_coco_names(nms_model, caplog):
    caplog.set_level(logging.WARNING)
    with open_backend(nms_model) as b:
        assert b.class_count_hint == 80
        d = Detector(b)
        dets = d.detect(square_image((64, 96), (3, 2, 8)))
    assert d.postprocessor.layout == "end2end"
    assert d.names == list(COCO_CLASSES) and d.names_source == "COCO"
    assert [d.label(int(c)) for c in dets.class_ids] == ["dog"]
    assert _warnings(caplog) == []


def test_graph_class_count_reads_every_nms_kind(nms_model, models, tmp_path):
    assert graph_class_count(nms_model) == 80
    assert graph_class_count(modelgen.nms_model(tmp_path / "five.onnx", num_classes=5, green_class=3)) == 5
    assert graph_class_count(modelgen.efficient_nms_model(tmp_path / "trt.onnx")) == 80
    assert graph_class_count(models["end2end"]) is None  # TopK, no NMS node: the graph does not say
    assert graph_class_count(models["raw"]) is None


def test_end2end_model_of_unknown_class_count_warns_once(models, caplog):
    caplog.set_level(logging.WARNING)
    with open_backend(models["end2end"]) as b:
        assert b.class_count_hint is None
        d = Detector(b)
    assert d.names == [] and d.label(1) == "class_1" and d.names_source == "none found"
    assert _warnings(caplog) == [
        "class names are unknown: trt-viewer cannot tell how many classes end2end.onnx has, so its "
        "labels will be class_N; give the names with --names FILE or in end2end.names beside the model "
        "(one name per line)"
    ]


def test_without_the_onnx_package_the_count_is_unknown(nms_model, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    caplog.set_level(logging.WARNING)
    with open_backend(nms_model) as b:
        assert b.class_count_hint is None
        d = Detector(b)
    assert d.label(16) == "class_16"
    [message] = _warnings(caplog)
    assert "how many classes nms.onnx has" in message and "--names FILE or in nms.names beside" in message


def test_names_file_for_an_end2end_model_is_silent(models, tmp_path, caplog):
    flag = tmp_path / "one.txt"
    flag.write_text("square\n")
    caplog.set_level(logging.WARNING)
    with open_backend(models["end2end"]) as b:
        assert Detector(b, names_file=flag).names == ["square"]
    assert _warnings(caplog) == []


@pytest.mark.parametrize("key", ["num_classes", "nc"])
def test_class_count_in_the_metadata(tmp_path, key):
    model = modelgen.yolox_model(tmp_path / "m.onnx", layout="end2end", metadata={key: "80"})
    with open_backend(model) as b:
        assert b.class_count_hint == 80
        assert Detector(b).names_source == "COCO"
    # read from the metadata by resolve_names too: any backend's metadata works
    assert resolve_names(None, {key: " 80 "}, None)[1] == "COCO"
    assert resolve_names(None, {key: "many"}, 3)[0] == ["class_0", "class_1", "class_2"]


def test_the_outputs_class_count_wins_over_the_metadata(tmp_path):
    model = modelgen.yolox_model(tmp_path / "m.onnx", num_classes=80, metadata={"num_classes": "3"})
    with open_backend(model) as b:
        assert b.class_count_hint is None and Detector(b).names_source == "COCO"


def test_engine_of_an_end2end_model_keeps_the_class_count(build, tmp_path):
    onnx_path = modelgen.efficient_nms_model(tmp_path / "e2e.onnx")
    engine = build(onnx_path, tmp_path / "e2e.engine", "--embed-metadata")
    sidecar = tmp_path / "e2e.names"
    assert sidecar.read_text().splitlines() == list(COCO_CLASSES)  # the names beside the engine
    sidecar.unlink()
    metadata = read_engine_file(engine).metadata
    assert metadata["num_classes"] == "80" and json.loads(metadata["names"]) == list(COCO_CLASSES)
    with TensorRTBackend(engine) as backend:  # the names embedded in the engine
        assert Detector(backend).names_source == "model metadata 'names'"
    del metadata["names"]  # the class count alone, as another tool may have left it
    assert resolve_names(engine, metadata, None) == (list(COCO_CLASSES), "COCO")
