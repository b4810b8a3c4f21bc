"""`modelyard serve` refusing what it cannot serve, each with one line and a next step,
before it listens anywhere; and what its help says about trust."""

from __future__ import annotations

import shutil
import socket

import pytest

from modelyard.engine.training.bundle import new_metadata, seal, write_metadata
from tests.app.test_cli_results import cli, one_line_error

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_help_says_a_bundle_runs_code_and_is_checked(trained):
    text = " ".join(cli("serve", "--help", env=trained.env).stdout.split())
    assert "Loading a bundle runs its code" in text and "serve only bundles you trust" in text
    assert "checked against its manifest.json" in text and "Tables only, for now" in text


def test_an_image_bundle_is_refused_with_the_reason(trained, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    write_metadata(folder, new_metadata(kind="image", target="label", classes=["a", "b"]))
    seal(folder)
    result = cli("serve", folder, "--port", "0", env=trained.env)
    one_line_error(result, 2, "is an image model", "tables only, for now",
                   "modelyard predict MODEL FOLDER")


def test_a_changed_bundle_is_refused_before_it_is_loaded(trained, bundles, tmp_path):
    copy = shutil.copytree(bundles["prices"], tmp_path / "prices")
    with open(copy / "pipeline.joblib", "ab") as fh:
        fh.write(b"\0")
    result = cli("serve", copy, "--port", "0", env=trained.env)
    one_line_error(result, 2, "was changed after it was made",
                   "pipeline.joblib differs from its manifest", "runs its code")


def test_another_address_is_warned_about(trained, bundles):
    # 192.0.2.1 is a documentation address no machine has: the bind fails, nothing listens.
    result = cli("serve", bundles["prices"], "--host", "192.0.2.1", "--port", "0",
                 env=trained.env)
    assert result.returncode == 2, result.stderr
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("modelyard: warning: the server will listen on 192.0.2.1")
    assert "no --token guards them" in warning
    assert "Cannot listen on 192.0.2.1" in error and "--host" in error


def test_a_taken_port_is_said(trained, bundles):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", bundles["prices"], "--port", port, env=trained.env)
    one_line_error(result, 2, f"port {port}: the port is taken", "Pass another --port")


def test_names_must_differ_and_runs_exist(trained, bundles):
    one_line_error(cli("serve", f"a={bundles['prices']}", f"a={bundles['broken']}",
                       env=trained.env), 2, "Two models are named “a”", "NAME=RUN_OR_BUNDLE")
    one_line_error(cli("serve", "no-such-run", env=trained.env), 2,
                   "There is no run “no-such-run”")
