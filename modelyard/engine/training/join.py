"""A worker joining another machine's Run: `modelyard worker --join RUN --storage URL`.

It reads the Run from its shared study storage (`sharing.py`): the Plan, the Profile,
and the SHA-256 of the training table. The table comes from `--data` (a copy, or a
shared path) or else from the path the main worker published (the same machine, or a
share mounted at the same place); it is checked against that SHA-256 before anything
is fitted, and the validation splits made from it are checked against the main
worker's, so its out-of-fold predictions line up row for row with the Run's. Then it
fits trials until the Run's deadline, handing each in through the database, and leaves.

It writes no run folder: its own events go to a scratch folder (its log), removed when it
leaves unless `keep` is asked for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelyard.engine.errors import BadInputError, PlanError
from modelyard.engine.settings import mask_url
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.data import load_training_data
from modelyard.engine.training.sharing import SharedRun, file_sha256, splits_digest
from modelyard.schemas import EventKind, Plan, Profile
from modelyard.storage.runfolder import JournalWriter, RunFolder, read_events

# How long a worker that joins before the Run has started waits for it (seconds).
START_WAIT_SECONDS = 600.0
# ...and for a Run just launched to publish itself (a wrong id waits this long).
PUBLISH_WAIT_SECONDS = 60.0


@dataclass
class Joined:
    """What a joined worker did: its trials, by state, and why it left."""

    run_id: str
    trials: dict[str, int]
    reason: str

    def words(self) -> str:
        total = sum(self.trials.values())
        parts = ", ".join(f"{n} {state}" for state, n in sorted(self.trials.items()))
        return (f"fitted {total} trial{'' if total == 1 else 's'} for run {self.run_id}"
                + (f" ({parts})" if parts else "") + f"; {self.reason}")


def data_file(given: str | None, published: str) -> Path:
    """The training table to read: `given` (a file, or a data set folder holding
    train.parquet), else the path the main worker published."""
    path = Path(given).expanduser() if given else Path(published)
    if path.is_dir():
        path = path / "train.parquet"
    if not path.is_file():
        where = "--data" if given else "the run's data path"
        raise BadInputError(f"No training table at {path} ({where}).",
                            "Copy the data set's train.parquet from the run's machine (or "
                            "mount its folder) and pass it with --data PATH.")
    return path


def join(run_id: str, url: str, *, data: str | None = None, threads: int | None = None,
         say: Callable[[str], None] = print, keep: bool = False,
         wait: float = PUBLISH_WAIT_SECONDS) -> Joined:
    """Join the Run `run_id` in the study storage `url` and fit its trials until it ends;
    `wait`: seconds to wait for a Run just launched to publish itself."""
    shared = SharedRun(url, run_id, joined=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"modelyard-join-{run_id}-"))
    try:
        shared.wait_for_run(wait, say)
        shared.announce()
        manifest = shared.attrs(fresh=True)
        if data is not None:
            # A table given by hand is checked first: whoever passed the wrong one hears
            # so, whether or not the search is still on.
            _check_data(data_file(data, manifest["data_path"]), manifest)
        if manifest.get("state") in ("closing", "ended"):
            return Joined(run_id, {}, "the run's search was already over")
        plan = Plan.model_validate(manifest["plan"])
        profile = Profile.model_validate(manifest["profile"])
        train_path = data_file(data, manifest["data_path"])
        if data is None:
            _check_data(train_path, manifest)
        training = load_training_data(train_path.parent, plan, profile, train_path)
        splits, _ = make_splits(plan.validation, training.y, plan.task, plan.seed,
                                groups=training.groups, order=training.order)
        if splits_digest(splits) != manifest.get("splits_sha256"):
            raise PlanError("This machine splits the rows differently from the run's "
                            "machine, so its predictions would not line up.",
                            "Install the same scikit-learn version as the run's machine "
                            f"({manifest.get('versions', {}).get('scikit-learn', '?')}).")
        say(f"joined run {run_id} at {mask_url(url)} as {shared.ident}: "
            f"{len(training.y)} rows, data checked (SHA-256 {manifest['data_sha256'][:12]}…)")
        if not _wait_until_running(shared):
            return Joined(run_id, {}, "the run ended before its search started")
        manifest = shared.attrs(fresh=True)  # now with the deadline and the budget's end
        from modelyard.engine.training.trainer import Trainer

        folder = RunFolder(scratch)
        journal = JournalWriter(folder)
        trainer = Trainer(plan, training, splits, journal, scratch / "optuna.unused",
                          n_jobs=threads or os.cpu_count() or 1,
                          started=float(manifest["end"]) - plan.budget_seconds,
                          scratch_dir=scratch / "guard", shared=shared)
        try:
            trainer.run()
        finally:
            journal.close()
        counts: dict[str, int] = {}
        for event, _ in read_events(folder.events_path, 0):
            if event.kind == EventKind.trial:
                state = event.data.get("state", "?")
                counts[state] = counts.get(state, 0) + 1
        return Joined(run_id, counts, "the run's search is over")
    finally:
        shared.close()
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _check_data(path: Path, manifest: dict) -> None:
    if path.stat().st_size != manifest.get("data_bytes") or \
            file_sha256(path) != manifest.get("data_sha256"):
        raise BadInputError(f"{path} is not the table the run trains on (its SHA-256 "
                            "differs).", "Copy the data set's train.parquet from the run's "
                            "machine again, whole, and pass it with --data PATH.")


def _wait_until_running(shared: SharedRun) -> bool:
    deadline = time.time() + START_WAIT_SECONDS
    while time.time() < deadline:
        state = shared.attrs(fresh=True).get("state")
        if state == "running":
            return True
        if state in ("closing", "ended"):
            return False
        time.sleep(1.0)
    return False
