"""The steps the app and the CLI share: ingest, propose a plan, launch, refresh.

Each step writes the folders (the truth) and then brings the catalog up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import jobs
from engine.errors import NotFoundError, PlanError
from engine.intake import ingest
from engine.intake.ingest import content_hash, load_profile
from engine.intake.samples import SAMPLES, write_sample
from engine.planning.rules import rule_plan
from engine.schemas import Plan
from storage import datasets as dataset_store
from storage import plans as plan_store
from storage import runs as run_store
from storage.catalog import Catalog
from storage.paths import Home
from storage.sync import sync


class Workspace:
    """One Home and its catalog, with the operations a person can ask for."""

    def __init__(self, home: Home):
        self.home = home
        self.catalog = Catalog(home)

    def refresh(self) -> list[str]:
        """Find dead workers, then index what changed. Returns runs newly marked failed."""
        failed = jobs.supervise(self.home)
        jobs.schedule(self.home)
        sync(self.catalog)
        return failed

    # -- data -------------------------------------------------------------------------
    def ingest(self, path: str | Path, *, name: str | None = None, target: str | None = None,
               test_path: str | Path | None = None, reuse: bool = False) -> dict[str, Any]:
        if reuse:
            self.refresh()
            found = dataset_store.find_by_hash(self.catalog, content_hash(Path(path)))
            if found:
                return dataset_store.read_meta(self.home, found["id"])
        meta = ingest(self.home, path, name=name, target=target, test_path=test_path)
        sync(self.catalog)
        return meta

    def ingest_sample(self, key: str) -> dict[str, Any]:
        sample = SAMPLES[key]
        path = write_sample(key, self.home.samples)
        return self.ingest(path, name=sample.title, target=sample.target, reuse=True)

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
    def propose_plan(self, dataset_id: str, *, target: str | None = None,
                     budget_seconds: int = 300, seed: int = 0) -> dict[str, Any]:
        profile = load_profile(self.home, dataset_id)
        plan = rule_plan(profile, dataset_id, target=target, budget_seconds=budget_seconds,
                         seed=seed)
        doc = plan_store.save_plan(self.home, self.catalog, dataset_id=dataset_id,
                                   plan=plan.model_dump(mode="json"), planner="rules",
                                   approved=False, provenance={"planner": "rules"})
        sync(self.catalog)
        return doc

    def approve_plan(self, plan: Plan, *, based_on: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        """Check `plan` against its data and store it as a new, approved version."""
        problems = plan.check_against(load_profile(self.home, plan.dataset_id))
        if problems:
            raise PlanError("The plan does not fit the data: " + "; ".join(problems) + ".",
                            "Edit the plan and approve it again.")
        provenance = dict((based_on or {}).get("provenance") or {})
        if based_on:
            provenance["based_on"] = based_on["id"]
        doc = plan_store.save_plan(
            self.home, self.catalog, dataset_id=plan.dataset_id,
            plan=plan.model_dump(mode="json"),
            planner=(based_on or {}).get("planner", "person"), approved=True,
            provenance=provenance)
        sync(self.catalog)
        return doc

    # -- runs -------------------------------------------------------------------------
    def start_run(self, plan_doc: dict[str, Any], name: str | None = None):
        plan = Plan.model_validate(plan_doc["plan"])
        if not name:
            # A name a person can tell apart in lists: the data set and a counter.
            meta = dataset_store.read_meta(self.home, plan.dataset_id)
            earlier = run_store.list_runs(self.catalog, plan.dataset_id)
            name = f"{meta['name']} #{len(earlier) + 1}"
        folder = jobs.create_run(self.home, plan, plan_id=plan_doc["id"], name=name)
        started = jobs.schedule(self.home)
        sync(self.catalog)
        # The worker, if this Run started now; None while it waits in the queue.
        proc = next((p for p in started if p.args[-1] == str(folder.path)), None)
        return folder, proc

    def add_time(self, run_id: str, seconds: int) -> dict[str, Any]:
        record = jobs.add_time(self.home, run_id, seconds)
        jobs.schedule(self.home)
        sync(self.catalog)
        return record

    def cancel(self, run_id: str) -> dict[str, Any]:
        record = jobs.cancel(self.home, run_id)
        sync(self.catalog)
        return record
