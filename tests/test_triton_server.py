"""tests/triton_server.py, the real Triton server the Triton tests run against: it starts on
free 127.0.0.1 ports, restricts its endpoints to a token where asked, and stops leaving
nothing behind (no process, no PyTriton workspace, no shared memory, no model copy).

Skipped, with the reason, where the server's environment cannot be made (no package
registry); with TRT_VIEWER_REQUIRE_TRITON=1 (CI, which makes it first) that fails instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import modelgen
import numpy as np
import pytest
from triton_server import ENV_SCRIPT, Served, TritonServer, server_or_skip

httpclient = pytest.importorskip("tritonclient.http")



def test_the_environment_is_made_once() -> None:
    python = server_or_skip()
    again = subprocess.run(["bash", str(ENV_SCRIPT)], capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout.strip() == str(python) and "made" not in again.stderr  # cached, not made anew
    probe = subprocess.run([str(python), "-c", "import numpy, pytriton, onnxruntime; print(numpy.__version__)"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.startswith("1.")  # PyTriton 0.7 needs numpy<2


def test_a_token_server_started_with_sigint_ignored_stops_clean(tmp_path: Path) -> None:
    python = server_or_skip()
    model = modelgen.yolox_model(tmp_path / "raw.onnx")
    token = "tok-" + os.urandom(8).hex()
    server = TritonServer([Served("raw", model)], token=token, python=python, ignore_sigint=True)
    server.start()
    try:
        workdir = server.workdir
        assert workdir is not None and server.workspace.is_dir()
        assert 1024 <= server.http_port != server.grpc_port >= 1024
        client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        try:
            assert client.is_server_live()  # health stays open
            with pytest.raises(Exception, match=r"\[403\] This API is restricted, expecting header "
                                                r"'triton-access-token'"):
                client.get_model_metadata("raw")
            headers = {"triton-access-token": token}
            assert client.get_model_metadata("raw", headers=headers)["inputs"][0]["shape"] == [-1, 3, 64, 96]
            image = httpclient.InferInput("images", [1, 3, 64, 96], "FP32")
            image.set_data_from_numpy(np.zeros((1, 3, 64, 96), np.float32))
            result = client.infer("raw", [image], headers=headers)
            assert result.as_numpy("output").shape == (1, 126, 7)
        finally:
            client.close()
        assert token not in Path(f"/proc/{server.pid}/cmdline").read_text()
    finally:
        left = server.stop()
    assert left == []
    assert not workdir.exists()
