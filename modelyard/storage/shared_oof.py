"""Out-of-fold predictions of a shared Run, in a table of the Run's own study database.

Workers on other hosts fit trials of a Run whose Optuna study lives in a shared database
(PostgreSQL). A trial's small facts travel as Optuna user attributes; its out-of-fold
predictions (rows x classes floats: megabytes on a big table) do not fit there, so each
goes into one row of `modelyard_oof` next to Optuna's tables, keyed by (run, model), as
a `.npy` payload (no pickle) with its SHA-256 checked on read. The same database means no
second thing to set up or reach: whoever can join the study can hand in its predictions.

This is the only module that speaks SQL to the shared database; it is imported only by
Runs that name one (SQLAlchemy is Optuna's own dependency).
"""

from __future__ import annotations

import hashlib
import io
import time

import numpy as np
import sqlalchemy as sa

_META = sa.MetaData()
OOF_TABLE = sa.Table(
    "modelyard_oof", _META,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("worker", sa.String(300)),
    sa.Column("created_at", sa.Float),
)


class DamagedPredictions(Exception):
    """A stored payload whose SHA-256 does not match what was recorded with it."""


class OofStore:
    """Put and get one trial's out-of-fold predictions in the shared database."""

    def __init__(self, url: str, **engine_kwargs):
        self.engine = sa.create_engine(url, pool_pre_ping=True, **engine_kwargs)
        _META.create_all(self.engine, checkfirst=True)

    def put(self, run_id: str, model: str, oof: np.ndarray, worker: str) -> str:
        """Store `oof` for (run, model), replacing an earlier row; returns its SHA-256."""
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(oof), allow_pickle=False)
        payload = buffer.getvalue()
        digest = hashlib.sha256(payload).hexdigest()
        key = (OOF_TABLE.c.run_id == run_id) & (OOF_TABLE.c.model == model)
        with self.engine.begin() as con:
            con.execute(sa.delete(OOF_TABLE).where(key))
            con.execute(sa.insert(OOF_TABLE).values(
                run_id=run_id, model=model, sha256=digest, payload=payload, worker=worker,
                created_at=time.time()))
        return digest

    def get(self, run_id: str, model: str) -> np.ndarray | None:
        """The predictions stored for (run, model); None when there are none."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(OOF_TABLE.c.sha256, OOF_TABLE.c.payload).where(
                (OOF_TABLE.c.run_id == run_id) & (OOF_TABLE.c.model == model))).first()
        if row is None:
            return None
        payload = bytes(row.payload)
        if hashlib.sha256(payload).hexdigest() != row.sha256:
            raise DamagedPredictions(f"the stored predictions of {model} do not match "
                                     "their checksum")
        return np.load(io.BytesIO(payload), allow_pickle=False)

    def count(self, run_id: str) -> int:
        with self.engine.connect() as con:
            return int(con.execute(sa.select(sa.func.count()).select_from(OOF_TABLE)
                                   .where(OOF_TABLE.c.run_id == run_id)).scalar() or 0)

    def drop_run(self, run_id: str) -> None:
        """Forget a finished Run's rows (its own folder keeps what the ensemble used)."""
        with self.engine.begin() as con:
            con.execute(sa.delete(OOF_TABLE).where(OOF_TABLE.c.run_id == run_id))

    def close(self) -> None:
        self.engine.dispose()
