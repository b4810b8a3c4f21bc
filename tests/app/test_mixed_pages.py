"""The Data page of a table whose rows point at images, through AppTest: the kind of
data in words, the Images tab (rows with a readable image, files left out, example rows
with their thumbnails); and the Leaderboard's words for each mixed model's inputs."""

from __future__ import annotations

import pandas as pd

from tests.app.test_data_page import open_path
from tests.app.test_pages import metric, texts
from tests.mixed_data import make_mixed


def test_a_mixed_table_shows_its_images_and_example_rows(app, tmp_path):
    table = make_mixed(tmp_path / "src", 20, damaged=1, missing=1)
    open_path(app, table)
    assert metric(app, "Kind of data") == "Table + images"
    assert "Images" in [t.label for t in app.tabs]
    captions = texts(app.caption)
    assert "18 of 20 rows have a readable image (“photo”)" in captions
    assert "2 files left out" in [e.label for e in app.expander]
    assert "photos/gone00001.png: not found" in texts(app.markdown)
    thumbs = app.image
    assert len(thumbs) == 6  # six example rows, one thumbnail each
    assert "**site**:" in captions and "**photo**" not in captions


def test_the_leaderboard_says_what_each_mixed_model_used():
    from modelyard.app.views import inputs_of, with_inputs

    frame = pd.DataFrame({"model": ["joined_lightgbm_3", "image_linear_0", "table_dummy_0"]})
    assert with_inputs(frame, ["rank", "model", "family"]) == ["rank", "model", "inputs",
                                                               "family"]
    assert frame["inputs"].tolist() == ["table + images", "images only", "table only"]
    plain = pd.DataFrame({"model": ["lightgbm_3", "image_net"]})
    assert with_inputs(plain, ["model"]) == ["model"] and "inputs" not in plain
    assert inputs_of("resnet18_0") == ""


def test_on_a_cpu_the_plan_editor_offers_the_fused_network_as_slow(app, tmp_path):
    from tests.app.test_planner_pages import propose

    open_path(app, make_mixed(tmp_path / "src", 30, text=False))
    propose(app)
    doc_id = app.selectbox(key="plan_version").value
    fused = app.number_input(key=f"plan_f_trials_fusion_{doc_id}")
    assert fused.value == 0  # not in the proposed plan on this CPU-only machine
    assert "slow without a GPU" in fused.help
    # A plan holds eight families at most: one table family makes room for it.
    chosen = [n for n in app.number_input if str(n.key).startswith("plan_f_trials_")
              and n.value > 0]
    if len(chosen) >= 8:
        chosen[-1].set_value(0).run()
    app.number_input(key=f"plan_f_trials_fusion_{doc_id}").set_value(2).run()
    assert "• Added Late-fusion network (2 trials)" in texts(app.text)
    app.button(key="plan_approve_form").click().run()
    assert not app.exception and not app.error, texts(app.error)
    assert "Approved as version 2." in texts(app.success)
