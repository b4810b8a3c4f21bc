"""The Workspace's optuna-dashboard command: the Run's own journal, quoted for a shell,
opened by the dashboard's loader; none for a Run without a journal."""

from __future__ import annotations

import shlex

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from modelyard.storage.runfolder import RunFolder


@pytest.mark.parametrize("run_id", ["run_plain0001", "run with space"])
def test_the_command_names_the_runs_journal_and_the_dashboard_loads_it(ws, run_id):
    from optuna_dashboard._storage_url import get_storage

    folder = RunFolder(ws.home.run_dir(run_id))
    folder.path.mkdir(parents=True)
    assert ws.optuna_dashboard_command(run_id) is None  # no journal, no command
    storage = JournalStorage(JournalFileBackend(str(folder.optuna_path)))
    study = optuna.create_study(study_name="linear", storage=storage, direction="maximize")
    study.optimize(lambda t: t.suggest_float("C", 0.1, 1.0), n_trials=3)

    command = ws.optuna_dashboard_command(run_id)
    program, path = shlex.split(command)
    assert program == "optuna-dashboard" and path == str(folder.optuna_path)
    loaded = get_storage(path)
    [found] = loaded.get_all_studies()
    assert found.study_name == "linear"
    assert len(loaded.get_all_trials(found._study_id)) == 3
