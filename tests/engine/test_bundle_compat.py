"""Bundles pickled before the package moved under `modelyard/` name their classes
`engine.*`: they still load, and loading them leaves no alias behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from modelyard.engine.training.bundle import load_pipeline
from modelyard.engine.training.ensemble import WeightedEnsemble

# Pickles a fitted WeightedEnsemble as the old layout did: its class lives in
# `engine.training.ensemble` (the module aliased under that name for the pickler).
_OLD_PICKLER = textwrap.dedent(
    """
    import sys
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import modelyard.engine.training.ensemble as module

    import modelyard.engine, modelyard.engine.training
    sys.modules["engine"] = modelyard.engine
    sys.modules["engine.training"] = modelyard.engine.training
    sys.modules["engine.training.ensemble"] = module
    module.WeightedEnsemble.__module__ = "engine.training.ensemble"
    X = np.arange(20, dtype=float).reshape(-1, 1)
    y = (X[:, 0] > 9).astype(int)
    model = module.WeightedEnsemble([LogisticRegression().fit(X, y)], [1.0], True)
    joblib.dump(model, sys.argv[1])
    """
)


def test_a_bundle_pickled_under_the_old_module_names_still_loads(tmp_path):
    path = tmp_path / "pipeline.joblib"
    subprocess.run([sys.executable, "-c", _OLD_PICKLER, str(path)], check=True)
    assert b"engine.training.ensemble" in path.read_bytes()
    assert b"modelyard.engine" not in path.read_bytes()
    loaded = load_pipeline(path)
    assert type(loaded) is WeightedEnsemble
    assert loaded.predict_proba(np.array([[0.0], [19.0]])).argmax(axis=1).tolist() == [0, 1]
    assert not [name for name in sys.modules if name.split(".")[0] == "engine"]


def test_a_missing_module_of_another_name_is_not_hidden(tmp_path):
    path = tmp_path / "pipeline.joblib"
    script = (_OLD_PICKLER.replace('"engine.training.ensemble"', '"gone_package.ensemble"')
              .replace('"engine"', '"gone_package"'))
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    with pytest.raises(ModuleNotFoundError, match="gone_package"):
        load_pipeline(path)
