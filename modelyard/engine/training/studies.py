"""Housekeeping on a Run's Optuna journal, without importing the training stack."""

from __future__ import annotations

from pathlib import Path


def close_running_trials(optuna_path, study_storage: str | None = None,
                         run_id: str | None = None) -> int:
    """Mark trials left RUNNING by a dead worker as FAIL; the journal has no heartbeat.
    A Run shared through a database (`study_storage`) has its RUNNING trials there failed
    and its state set to ended, so joined workers leave."""
    if study_storage and run_id:
        from modelyard.engine.training.sharing import close_shared_trials

        return close_shared_trials(study_storage, run_id)
    if not Path(optuna_path).exists():
        return 0
    # Imported here: the supervisor runs on every page view and CLI call.
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    storage = JournalStorage(JournalFileBackend(str(optuna_path)))
    closed = 0
    for study in storage.get_all_studies():
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            if trial.state is TrialState.RUNNING:
                storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                closed += 1
    return closed
