"""The Workspace: the app's and the CLI's one door to engine and storage.

Its steps (ingest, propose a plan, launch, refresh) write the folders (the truth) and
then bring the catalog up to date; its read methods return the view objects the pages
display (`app/views.py`), so no page reads storage itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.app.views import DatasetView, LeaderboardPage, RunView, TrialCounts
from modelyard.engine import extras, jobs
from modelyard.engine import settings as engine_settings
from modelyard.engine.errors import BadInputError, NotFoundError, PlanError
from modelyard.engine.intake import ingest, missing_words
from modelyard.engine.intake.ingest import content_key, load_profile, reuse_note, same_content
from modelyard.engine.intake.roles import update as update_roles
from modelyard.engine.intake.samples import SAMPLES, write_sample
from modelyard.engine.intake.target import CHOSEN
from modelyard.engine.planning.diff import diff_plans
from modelyard.engine.planning.image_setup import ImageSetup, image_setup
from modelyard.engine.planning.problems import TargetChange, plan_problems, target_needs_approval
from modelyard.engine.planning.prompt import read_sample_rows
from modelyard.engine.planning.propose import propose, revise
from modelyard.schemas import Event, Plan, Profile, RunRecord, RunStatus, TrialResult
from modelyard.storage import datasets as dataset_store
from modelyard.storage import plans as plan_store
from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog
from modelyard.storage.paths import Home
from modelyard.storage.runfolder import RunFolder
from modelyard.storage.sync import reindex, sync

# Why a sample's target is its target (in place of "chosen by you").
SAMPLE_REASON = "named by the sample data set"


class Workspace:
    """One Home and its catalog, with the operations a person can ask for."""

    def __init__(self, home: Home):
        self.home = home
        self.catalog = Catalog(home)

    @classmethod
    def at(cls, root: str | Path | None = None) -> Workspace:
        """The Workspace of `root`, else of $MODELYARD_HOME, else of ~/.modelyard."""
        return cls(Home.from_env(str(root) if root is not None else None))

    @staticmethod
    def default_root() -> str:
        """The folder `Workspace.at()` opens: $MODELYARD_HOME, else ~/.modelyard."""
        return str(Home.from_env().root)

    def reindex(self) -> dict[str, int]:
        """Rebuild the catalog from the folders; how many of each kind it indexed."""
        return reindex(self.catalog)

    def catalog_notice(self) -> str | None:
        """Once, if this process found the catalog damaged: that it was set aside and
        rebuilt from the folders (`storage.catalog`)."""
        return self.catalog.damage_notice()

    def refresh(self) -> list[str]:
        """Find dead workers, then index what changed. Returns runs newly marked failed."""
        failed = jobs.supervise(self.home)
        jobs.schedule(self.home)
        sync(self.catalog)
        return failed

    # -- optional parts ---------------------------------------------------------------
    def extra_state(self, extra: str) -> extras.InstallState:
        """Whether an optional part (`vision`) is installed, or where its install stands."""
        return extras.read(self.home.installs, extra)

    @staticmethod
    def _require_extras(plan: Plan) -> None:
        """Refuse, before a worker starts, a Run whose models need a part not installed."""
        from modelyard.engine.training import families

        images = any(families.is_image(c.family) for c in plan.families)
        if images and extras.missing("vision"):
            from modelyard.engine.vision import INSTALL_HINT

            raise BadInputError("This plan trains image models, which need PyTorch and "
                                "timm; they are not installed.", INSTALL_HINT + " The "
                                "Plan page offers to download them.")
        if plan.task.value == "forecast" and extras.missing("forecast"):
            raise BadInputError("This plan forecasts with statsmodels, which is not "
                                "installed.", "Install it: pip install 'modelyard[forecast]'.")
        for choice in plan.families:  # a family that needs an extra (RealMLP, TabM)
            family = families.get(choice.family) if families.known(choice.family) else None
            reason = family.unavailable(plan.task) if family is not None else None
            if reason:
                hint = getattr(family, "install_hint", "")
                raise BadInputError(f"This plan trains {family.title}. {reason}",
                                    f"{hint} Or take {family.title} out of the plan."
                                    .lstrip())

    def install_extra(self, extra: str) -> extras.InstallState:
        """Start downloading and installing an optional part (the person asked)."""
        return extras.start(self.home.installs, extra)

    # -- data -------------------------------------------------------------------------
    def ingest(self, path: str | Path, *, name: str | None = None, target: str | None = None,
               test_path: str | Path | None = None, reuse: bool = False,
               **options: Any) -> dict[str, Any]:
        """Take a file, folder or zip in as a data set; with `reuse`, a data set of the same
        content (and test file) is returned instead of a copy, its meta carrying
        "reused": the sentence to show. `options`: `sheet`, `header` and `progress` of
        `engine.intake.ingest`."""
        if reuse:
            found = self.find_existing(path, sheet=options.get("sheet"), test_path=test_path)
            if found:
                note = reuse_note(found)
                if target is not None and not (found.get("target_chosen")
                                               and found.get("target") == target):
                    # The target asked for now is the person's choice for this data set,
                    # as on a first ingest: checked against its columns, and said.
                    was = found.get("target")
                    found = self.set_roles(found["id"], target=target)
                    if was != target:
                        note += f" Its target is now “{target}”" + (
                            f" (it was “{was}”)." if was else ".")
                return {**found, "reused": note}
        meta = ingest(self.home, path, name=name, target=target, test_path=test_path,
                      **options)
        sync(self.catalog)
        return meta

    def find_existing(self, path: str | Path, sheet: str | None = None,
                      test_path: str | Path | None = None) -> dict[str, Any] | None:
        """The meta of a data set ingested from the same content (and the same test file,
        or none), if there is one."""
        path = Path(path).expanduser()
        if not path.exists():
            return None
        try:
            digest = content_key(path, sheet)
        except (OSError, BadInputError):  # unreadable or broken: ingest will say so
            return None
        self.refresh()
        for found in dataset_store.find_all_by_hash(self.catalog, digest):
            meta = dataset_store.read_meta(self.home, found["id"])
            try:
                if same_content(meta, test_path):
                    return meta
            except OSError:  # an unreadable test file: ingest will say so
                return None
        return None

    def treat_words_as_missing(self, dataset_id: str, as_missing: bool = True
                               ) -> dict[str, Any]:
        """Read cells such as “None” or “NA” in the data set's text columns as missing (or,
        with `as_missing=False`, as values again); the profile, plans, training and
        predictions follow. Refused while a run of the data set is training on it."""
        busy = [r for r in self.runs(dataset_id) if RunStatus(r["status"]).is_active]
        if busy:
            raise BadInputError(f"The run “{busy[0]['name']}” is training on this data set.",
                                "Wait for it to finish (or cancel it), then try again.")
        meta = missing_words.choose(self.home, dataset_id, as_missing)
        sync(self.catalog)
        return meta

    def set_roles(self, dataset_id: str, *, roles: dict[str, str | None] | None = None,
                  target: str | None = None, task: str | None = None) -> dict[str, Any]:
        """Set column roles (None removes one) and/or the target and task of a data set;
        `target=""` hands the choice back to the guess."""
        meta = update_roles(self.home, dataset_id, roles=roles, target=target, task=task)
        if target is not None and meta.get("target_named_by"):  # the person chose now
            meta = dataset_store.update_meta(self.home, dataset_id, {"target_named_by": None})
        sync(self.catalog)
        return meta

    def ingest_sample(self, key: str) -> dict[str, Any]:
        sample = SAMPLES[key]
        path = write_sample(key, self.home.samples)
        if found := self.find_existing(path):
            return found
        meta = self.ingest(path, name=sample.title, target=sample.target)
        # The sample names its target, not the person (`_profile` says so).
        meta = dataset_store.update_meta(self.home, meta["id"], {"target_named_by": "sample"})
        sync(self.catalog)
        return meta

    def _profile(self, dataset_id: str) -> Profile:
        """A data set's Profile, its target's reason saying truthfully who named it: the
        profile says "chosen by you" for any target named when the data was added."""
        profile = load_profile(self.home, dataset_id)
        if profile.target is not None and profile.target.reason == CHOSEN and \
                dataset_store.read_meta(self.home, dataset_id).get("target_named_by"):
            profile.target.reason = SAMPLE_REASON
        return profile

    def resolve_dataset(self, ref: str) -> str:
        found = dataset_store.resolve(self.catalog, ref)
        if not found:
            raise NotFoundError(f"There is no data set “{ref}”.",
                                "List them with `modelyard datasets`.")
        if len(found) > 1:
            raise NotFoundError(f"Several data sets are named “{ref}”.", "Use its id instead.")
        return found[0]["id"]

    def resolve_run(self, ref: str) -> str:
        found = run_store.resolve(self.catalog, ref)
        if not found:
            raise NotFoundError(f"There is no run “{ref}”.", "List them with `modelyard runs`.")
        if len(found) > 1:
            raise NotFoundError(f"Several runs are named “{ref}”.", "Use its id instead.")
        return found[0]["id"]

    # -- plans ------------------------------------------------------------------------
    def settings(self, **flags: Any) -> engine_settings.Settings:
        """Every setting, resolved: `flags`, then the environment, the file, the default."""
        return engine_settings.resolve(self.home, flags)

    def saved_settings(self) -> dict[str, Any]:
        """What the settings file holds."""
        return engine_settings.saved(self.home)

    def save_settings(self, **changes: Any) -> dict[str, Any]:
        """Write settings into the file; None removes one."""
        return engine_settings.save(self.home, **changes)

    def reset_settings(self) -> dict[str, Any]:
        """Remove every setting from the file: the defaults (or the variables) apply."""
        return engine_settings.save(self.home, **dict.fromkeys(engine_settings.BY_NAME))

    def settings_without_file(self) -> engine_settings.Settings:
        """What would apply if nothing were saved: a value equal to it is not pinned."""
        return engine_settings.resolve(None)

    def llm_options(self, planner: str | None = None, host: str | None = None,
                    model: str | None = None) -> dict[str, Any]:
        """The planner, host and model to use (see `engine/settings.py` for the order)."""
        found = self.settings(planner=planner, ollama_host=host, ollama_model=model)
        # A model named by a flag must be installed; one remembered is a preference.
        named = found.sources["ollama_model"] == "flag"
        return {"planner": found.planner, "host": found.ollama_host,
                "model": found.ollama_model if named else None,
                "default_model": None if named else found.ollama_model,
                "timeout": found.ollama_timeout}

    def forecast_asked(self, dataset_id: str, goal: str | None) -> str | None:
        """When `goal` asks for future values ("forecast unemployment") and the data set's
        rows are a time series: the column to forecast (the one the goal names, else the
        likely target). None otherwise: the goal is read by the planner as usual."""
        from modelyard.engine.planning.goal import forecast_target

        return forecast_target(goal, self._profile(dataset_id))

    def propose_plan(self, dataset_id: str, *, target: str | None = None,
                     budget_seconds: int = 300, seed: int = 0, goal: str | None = None,
                     planner: str | None = None, host: str | None = None,
                     model: str | None = None, on_progress=None, cancel_event=None
                     ) -> dict[str, Any]:
        """Propose a Plan (the language model's, or the rule planner's with the reason)
        and store it as a new, unapproved version; its provenance says how it was made."""
        profile = self._profile(dataset_id)
        proposal = propose(
            profile, dataset_id, goal=goal, target=target, budget_seconds=budget_seconds,
            seed=seed, **self.llm_options(planner, host, model),
            sample_rows=read_sample_rows(self.home.dataset_dir(dataset_id) / "train.parquet"),
            on_progress=on_progress, cancel_event=cancel_event)
        provenance = {**proposal.provenance, "planner": proposal.planner,
                      "model": proposal.model or proposal.provenance.get("model"),
                      "fallback_reason": proposal.fallback_reason}
        doc = plan_store.save_plan(self.home, self.catalog, dataset_id=dataset_id,
                                   plan=proposal.plan.model_dump(mode="json"),
                                   planner=proposal.planner, approved=False,
                                   provenance=provenance)
        sync(self.catalog)
        return doc

    def review_run(self, run_id: str, *, planner: str | None = None, host: str | None = None,
                   model: str | None = None, on_progress=None, cancel_event=None):
        """Diagnose a finished Run and store the revised Plan as a new version.

        Returns the Revision and the stored document (None when nothing needs changing).
        """
        record = RunFolder(self.home.run_dir(run_id)).read()
        run = {**(run_store.get_run(self.catalog, run_id) or {}), **record}
        plan = Plan.model_validate(record["plan"])
        profile = load_profile(self.home, plan.dataset_id)
        revision = revise(
            plan, profile, run, run_store.trials(self.catalog, run_id),
            **self.llm_options(planner, host, model),
            sample_rows=read_sample_rows(self.home.dataset_dir(plan.dataset_id)
                                         / "train.parquet"),
            on_progress=on_progress, cancel_event=cancel_event)
        if revision.plan is None:
            return revision, None
        provenance = {**revision.provenance, "planner": revision.planner,
                      "model": revision.model or revision.provenance.get("model"),
                      "fallback_reason": revision.fallback_reason,
                      "based_on": record.get("plan_id")}
        doc = plan_store.save_plan(self.home, self.catalog, dataset_id=plan.dataset_id,
                                   plan=revision.plan.model_dump(mode="json"),
                                   planner=revision.planner, approved=False,
                                   provenance=provenance)
        sync(self.catalog)
        return revision, doc

    def approve_plan(self, plan: Plan, *, based_on: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        """Check `plan` against its data and store it as a new, approved version."""
        profile = load_profile(self.home, plan.dataset_id)
        problems = plan_problems(plan, profile)
        if problems:
            raise PlanError("The plan does not fit the data: " + "; ".join(problems) + ".",
                            "Edit the plan and approve it again.")
        provenance = dict((based_on or {}).get("provenance") or {})
        planner = (based_on or {}).get("planner", "person")
        if based_on:
            provenance["based_on"] = based_on["id"]
            # What the person changed, against the version they started from.
            edits = diff_plans(Plan.model_validate(based_on["plan"]), plan)
            provenance["edits"] = edits
            if edits:
                planner = "person"
        doc = plan_store.save_plan(
            self.home, self.catalog, dataset_id=plan.dataset_id,
            plan=plan.model_dump(mode="json"),
            planner=planner, approved=True,
            provenance=provenance)
        sync(self.catalog)
        return doc

    def target_change(self, doc: dict[str, Any]) -> TargetChange | None:
        """Whether a stored plan's target is not the one the person named (or, naming
        none, the data's likely target): such a plan runs only with their approval. A
        version the person edited (planner "person") is their choice."""
        if doc.get("planner") == "person":
            return None
        plan = Plan.model_validate(doc["plan"])
        named = (doc.get("provenance") or {}).get("named_target")
        return target_needs_approval(plan, load_profile(self.home, plan.dataset_id), named)

    def image_setup(self, plan: Plan) -> ImageSetup:
        """The image size and starting weights an image Plan would get on this machine."""
        return image_setup(plan, self.home.dataset_dir(plan.dataset_id), self.home.weights)

    # -- runs -------------------------------------------------------------------------
    def start_run(self, plan_doc: dict[str, Any], name: str | None = None,
                  storage: str | None = None, asked_at: float | None = None):
        """Queue (and start, if a slot is free) a Run of an approved Plan; `storage`: a
        study storage URL to share its search through (else the setting, else none);
        `asked_at`: when the person asked for it, if before now (its budget counts from
        there if it starts now, `jobs.launch`)."""
        plan = Plan.model_validate(plan_doc["plan"])
        self._require_extras(plan)
        resolved = self.settings(study_storage=storage and self.storage_url(storage))
        if resolved.study_storage:
            self._check_shareable(plan)
        # A name no other run has (`name`, else the data set's and a counter), taken
        # under a lock until the run exists: two runs started at once get two names.
        base = dataset_store.read_meta(self.home, plan.dataset_id)["name"]
        with run_store.new_run_name(self.home, base, name) as unique:
            folder = jobs.create_run(self.home, plan, plan_id=plan_doc["id"], name=unique,
                                     settings=resolved.record(),
                                     study_storage=resolved.study_storage)
        started = jobs.schedule(self.home, asked_at={folder.id: asked_at} if asked_at
                                else None)
        sync(self.catalog)
        # The worker, if this Run started now; None while it waits in the queue.
        proc = next((p for p in started if p.args[-1] == str(folder.path)), None)
        return folder, proc

    @staticmethod
    def _check_shareable(plan: Plan) -> None:
        from modelyard.engine.training import families

        if any(families.is_image(c.family) for c in plan.families):
            raise BadInputError("Image models train on this machine only; a study storage "
                                "shares the search of tables.",
                                "Clear the study storage (Settings page) for this run.")

    def check_storage(self, url: str) -> str:
        """Connect to a study storage URL; the sentence to show, or BadInputError."""
        from modelyard.engine.training.sharing import open_storage

        normalized = self.storage_url(url)
        storage = open_storage(normalized, heartbeat=False)
        try:
            runs = len({s.study_name.split(":")[1] for s in storage.get_all_studies()
                        if s.study_name.startswith("modelyard:")})
        finally:
            storage.engine.dispose()
        return (f"Connected to {engine_settings.mask_url(normalized)}: it holds the search "
                f"of {runs} run{'' if runs == 1 else 's'}.")

    @staticmethod
    def storage_url(url: str) -> str:
        """A study storage URL as stored, or BadInputError saying what is wrong with it."""
        try:
            return engine_settings.normalize_storage_url(url)
        except ValueError as exc:
            raise BadInputError(f"{exc}.", "Write it as postgresql://USER@HOST:5432/"
                                "DATABASE (the password in ~/.pgpass).") from None

    @staticmethod
    def join_command(run_id: str, url: str | None) -> str:
        """The command another machine runs to join a Run's search (password masked)."""
        where = engine_settings.mask_url(url) if url else "URL"
        return f"modelyard worker --join {run_id} --storage '{where}'"

    def add_time(self, run_id: str, seconds: int) -> RunRecord:
        record = jobs.add_time(self.home, run_id, seconds)
        jobs.schedule(self.home)
        sync(self.catalog)
        return record

    def cancel(self, run_id: str) -> RunRecord:
        record = jobs.cancel(self.home, run_id)
        sync(self.catalog)
        return record

    # -- reads for the pages: view objects, built here and only here ---------------------
    def datasets(self) -> list[dict[str, Any]]:
        """Every data set's catalog row, newest first."""
        return dataset_store.list_datasets(self.catalog)

    def dataset(self, dataset_id: str) -> DatasetView:
        """A data set with its Profile."""
        row = next((d for d in self.datasets() if d["id"] == dataset_id), None)
        if row is None:
            raise NotFoundError(f"There is no data set “{dataset_id}”.",
                                "Add one on the Data page.")
        return DatasetView(row, self._profile(dataset_id))

    def plans(self, dataset_id: str) -> list[dict[str, Any]]:
        """Every version of every Plan of a data set."""
        return plan_store.list_plans(self.catalog, dataset_id)

    def runs(self, dataset_id: str | None = None,
             statuses: tuple[str, ...] | frozenset[str] | None = None) -> list[dict[str, Any]]:
        """Runs (of one data set, in some statuses) as the catalog lists them, newest first."""
        found = run_store.list_runs(self.catalog, dataset_id)
        return [r for r in found if statuses is None or r["status"] in statuses]

    def run_view(self, run_id: str) -> RunView | None:
        """A Run with its Trials and progress; None when it no longer exists."""
        run = run_store.get_run(self.catalog, run_id)
        if run is None:
            return None
        folder = RunFolder(self.home.run_dir(run_id))

        def events(kind: str, limit: int) -> list[Event]:
            found = run_store.events(self.catalog, run_id, kinds=(kind,), limit=limit)
            return [Event.model_validate(row) for row in found]

        def latest(kind: str) -> Event | None:
            found = events(kind, 1)
            return found[-1] if found else None

        return RunView(
            run=run, plan=self.run_record(run_id).get("plan"),
            trials=[TrialResult.model_validate(row)
                    for row in run_store.trials(self.catalog, run_id)],
            progress=latest("progress"), epoch=latest("epoch"), resource=latest("resource"),
            failure=latest("status") if run["status"] == RunStatus.failed else None,
            epochs=events("epoch", 5000),
            log_tail=folder.log_tail() or "",
            max_parallel_runs=jobs.max_parallel_runs(self.home),
            study_storage=engine_settings.mask_url(
                self.run_record(run_id).get("study_storage")) or None)

    def run(self, run_id: str) -> dict[str, Any] | None:
        """A Run's catalog row; None when there is none."""
        return run_store.get_run(self.catalog, run_id)

    def run_folder(self, run_id: str) -> RunFolder:
        """A Run's folder (run.json, events, model), whether or not it exists yet."""
        return RunFolder(self.home.run_dir(run_id))

    def ranked_trials(self, *, run_id: str | None = None, dataset_id: str | None = None,
                      metric: str | None = None) -> list[dict[str, Any]]:
        """Complete Trials ranked by CV score within their Run (of one Run, or of one data
        set's Runs scored by `metric`, or all)."""
        return run_store.leaderboard(self.catalog, run_id=run_id, dataset_id=dataset_id,
                                     metric=metric)

    def profile_record(self, dataset_id: str) -> dict[str, Any]:
        """A data set's Profile as stored (profile.json), for JSON output."""
        return dataset_store.read_profile(self.home, dataset_id)

    def run_record(self, run_id: str) -> dict[str, Any]:
        """The Run's own record, run.json (its Plan, as it last ran); empty if gone."""
        try:
            return RunFolder(self.home.run_dir(run_id)).read()
        except (OSError, ValueError):
            return {}

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        """A Run's Trials, in the order they finished."""
        return run_store.trials(self.catalog, run_id)

    def run_leader(self, run_id: str) -> dict[str, Any] | None:
        """The best Trial of a Run, as the leaderboard ranks it."""
        return next(iter(run_store.run_leaders(self.catalog, run_ids=[run_id], top=1)), None)

    def trial_facets(self, dataset_id: str | None = None,
                     metric: str | None = None) -> dict[str, Any]:
        """What the leaderboard can filter on: runs, families and states, with counts."""
        return run_store.trial_facets(self.catalog, dataset_id, metric)

    def leaderboard_scopes(self) -> list[dict[str, Any]]:
        """What a leaderboard can rank: each data set and metric with scored trials, its
        number of Runs and best model; the data set of the newest Run first."""
        return run_store.scopes(self.catalog)

    def leaderboard(self, **query: Any) -> LeaderboardPage:
        """The Leaderboard page's tables; `query`: dataset_id, metric, run_ids, families,
        states, sort, descending, limit, offset, as `storage.runs.overview` takes them."""
        found = run_store.overview(self.catalog, **query)
        return LeaderboardPage(**{**found, "counts": _counts_by_run(found["counts"])})

    def trial_counts(self, run_id: str) -> TrialCounts:
        """How many trials a Run has, by the one definition every page and the CLI show
        (`engine.results.counts`)."""
        return self.trial_counts_of([run_id]).get(run_id, TrialCounts())

    def trial_counts_of(self, run_ids: list[str] | None = None) -> dict[str, TrialCounts]:
        """`trial_counts` of several Runs (all when None), by Run id."""
        return _counts_by_run(run_store.trial_counts(self.catalog, run_ids))

    def best_over_time(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """Each Run's best score as its search went on."""
        return run_store.best_over_time(self.catalog, run_ids)

    def search_history(self, run_id: str) -> dict[str, Any]:
        """A Run's trials in order, thinned for a chart."""
        return run_store.history(self.catalog, run_id)

    def speed_points(self, run_id: str) -> dict[str, Any]:
        """A Run's trials as score against fit and predict time."""
        return run_store.speed_points(self.catalog, run_id)

    def param_sample(self, run_id: str, family: str) -> list[dict[str, Any]]:
        """The settings and scores of one family's trials in a Run."""
        return run_store.param_sample(self.catalog, run_id, family)

    def model_stamp(self, run_id: str) -> float:
        """When the Run's model was last written (0 without one): a cache key."""
        from modelyard.engine.training.bundle import METADATA_FILE

        meta = self.home.run_dir(run_id) / "model" / METADATA_FILE
        return meta.stat().st_mtime if meta.exists() else 0.0

    def open_result(self, run_id: str):
        """The finished Run's model and results (`engine.results.artifacts.RunResult`)."""
        from modelyard.engine.results.artifacts import open_run

        return open_run(self.home, run_id)

    def export_model(self, run_id: str, out: Path, fmt: str = "bundle", *,
                     make_zip: bool = True, overwrite: bool = False):
        """The Run's model written as a Model bundle, a bundle with ONNX inside, or an
        MLflow model (`engine.results.export_formats`); its card is the Run's report."""
        from modelyard.engine.results import report
        from modelyard.engine.results.export_formats import export_as

        result = self.open_result(run_id)
        if result.meta.get("kind") == "forecast":
            raise BadInputError("Exporting a forecasting model is not supported yet.",
                                f"Forecast with `modelyard predict {run_id} history.csv "
                                "--out forecast.csv`, or copy the run's model/ folder (a "
                                "sealed bundle).")
        if result.is_text_to_text:
            from modelyard.engine.text_to_text.limits import no_export

            raise no_export(run_id, str(result.model_dir))
        card = report.build(result, self.catalog).markdown()
        return export_as(result, out, fmt, card=card, make_zip=make_zip, overwrite=overwrite)

    def log_to_mlflow(self, run_id: str, tracking: Path) -> str:
        """Log the finished Run to a local MLflow tracking folder; the MLflow run id."""
        import pandas as pd

        from modelyard.engine.results.mlflow_export import log_run

        leaderboard = pd.DataFrame(self.ranked_trials(run_id=run_id))
        return log_run(self.open_result(run_id), tracking, leaderboard)

    def optuna_dashboard_command(self, run_id: str) -> str | None:
        """The command that opens the Run's Optuna journal, as it is, in optuna-dashboard;
        None when the Run has no journal."""
        import shlex

        path = RunFolder(self.home.run_dir(run_id)).optuna_path
        return f"optuna-dashboard {shlex.quote(str(path))}" if path.exists() else None

    # -- the prediction server of a Run (modelyard/serve/process.py) ------------------------
    def server_state(self, run_id: str):
        """The Run's prediction server (address, alive or why not), or None."""
        from modelyard.serve import process

        return process.state(self.home.run_dir(run_id))

    def start_server(self, run_id: str):
        """Start a prediction server for the Run's model on 127.0.0.1; once it answers."""
        from modelyard.serve import process

        return process.start(self.home.root, run_id, self.home.run_dir(run_id))

    def stop_server(self, run_id: str) -> bool:
        """Stop the Run's prediction server; True if one was running."""
        from modelyard.serve import process

        return process.stop(self.home.run_dir(run_id))

    def server_example(self, run_id: str, url: str) -> str:
        """A curl command predicting the first training row with the Run's server."""
        from modelyard.serve import process

        result = self.open_result(run_id)
        row = process.example_row(result.predictor.features, result.training_rows())
        return process.curl_example(url, row, token=bool(self.settings().serve_token))

    # -- sound (issue 14) -------------------------------------------------------------------
    def sound_examples(self, dataset_id: str, per_class: int = 3) -> dict[str, list[Path]]:
        """A few recordings of each class of a sound data set, to listen to."""
        from modelyard.engine.intake.audio import examples

        return examples(self.home.dataset_dir(dataset_id), per_class)

    def sound_look(self, path: Path):
        """The wave and log-mel spectrogram of one recording (engine/audio/features.py)."""
        from modelyard.engine.audio.features import look

        return look(Path(path))


    # -- forecasting (engine/forecast) ------------------------------------------------------
    def propose_forecast_plan(self, dataset_id: str, *, target: str | None = None,
                              time_column: str | None = None,
                              series_column: str | None = None, horizon: int | None = None,
                              windows: int | None = None, frequency: str | None = None,
                              covariates: list[str] | None = None,
                              budget_seconds: int = 300, seed: int = 0) -> dict[str, Any]:
        """A forecasting Plan from the rules (the person asked for a forecast), checked
        against the data and stored as a new, unapproved version."""
        from modelyard.engine.forecast.plan import forecast_plan
        from modelyard.engine.training.data import read_table

        table = read_table(self.home.dataset_dir(dataset_id) / "train.parquet")
        plan = forecast_plan(self._profile(dataset_id), dataset_id, table, target=target,
                             time_column=time_column, series_column=series_column,
                             horizon=horizon, windows=windows, frequency=frequency,
                             covariates=covariates, budget_seconds=budget_seconds, seed=seed)
        doc = plan_store.save_plan(
            self.home, self.catalog, dataset_id=dataset_id,
            plan=plan.model_dump(mode="json"), planner="rules", approved=False,
            provenance={"planner": "rules", "requested_planner": "rules",
                        "planner_note": "A forecast was asked for: the rule planner "
                                        "reads the set-up from the data."})
        sync(self.catalog)
        return doc

    def forecast_views(self, run_id: str) -> dict[str, Any] | None:
        """What the Model page plots for a forecasting Run: history, backtests and the
        forecast per series (frames keyed by `unique_id`); None for other Runs."""
        from modelyard.engine.forecast.views import forecast_views

        return forecast_views(RunFolder(self.home.run_dir(run_id)))

    # -- tables that point at images (issue 14) ---------------------------------------------
    def mixed_examples(self, dataset_id: str, n: int = 6) -> list[tuple[dict, list[Path]]]:
        """A few rows of a mixed data set that have their images: (values, image files)."""
        from modelyard.engine.intake.mixed import examples

        return examples(self.home.dataset_dir(dataset_id), self._profile(dataset_id), n)


def _counts_by_run(found: list[dict[str, Any]]) -> dict[str, TrialCounts]:
    """The catalog's (run, blend or not, state, how many) rows as one TrialCounts a Run."""
    by_run: dict[str, list[tuple[str, str, int]]] = {}
    for row in found:
        by_run.setdefault(row["run_id"], []).append(
            ("ensemble" if row["blend"] else "", row["state"], row["n"]))
    return {run_id: TrialCounts.of(records) for run_id, records in by_run.items()}
