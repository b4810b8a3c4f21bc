"""The parts of RealMLP and TabM that import pytabkit (and so torch and Lightning):
kept apart from `nets_model.py` so that a fit can import them against its deadline (an
import of torch and Lightning took 96 s on this machine under load, see nets_model.py).
"""

from __future__ import annotations

import time

from pytabkit.models.alg_interfaces.sub_split_interfaces import SingleSplitWrapperAlgInterface
from pytabkit.models.alg_interfaces.tabm_interface import TabMSubSplitInterface
from pytabkit.models.sklearn import sklearn_interfaces as library
from pytabkit.models.training.logging import Logger


def _out_of_time():
    from modelyard.engine.training.evaluate import OutOfTime

    return OutOfTime()


class _Until(Logger):
    """Passes lines to `inner` and stops the fit (`OutOfTime`) once `deadline` passed."""

    def __init__(self, inner: Logger, deadline: float):
        super().__init__(inner.get_verbosity_level())
        self.inner = inner
        self.deadline = deadline

    def log(self, verbosity: int, content: str):
        if time.time() > self.deadline:
            raise _out_of_time()
        self.inner.log(verbosity, content)


class _TabMUntil(TabMSubSplitInterface):
    """TabM's training, stopped after the epoch that passes `deadline`."""

    def __init__(self, deadline: float | None = None, **config):
        super().__init__(**config)
        self.deadline = deadline

    def fit(self, ds, idxs_list, interface_resources, logger, tmp_folders, name):
        if self.deadline is not None:
            logger = _Until(logger, self.deadline)
        return super().fit(ds, idxs_list, interface_resources, logger, tmp_folders, name)


class Deadlined:
    """A TabM estimator whose training stops at `deadline_` (set just before `fit`)."""

    deadline_: float | None = None

    def _create_alg_interface(self, n_cv: int):
        config = self.get_config()
        return SingleSplitWrapperAlgInterface(
            [_TabMUntil(deadline=self.deadline_, **config) for _ in range(n_cv)])


class _TabMClassifier(Deadlined, library.TabM_D_Classifier):
    pass


class _TabMRegressor(Deadlined, library.TabM_D_Regressor):
    pass


ESTIMATORS = {"RealMLP_TD_Classifier": library.RealMLP_TD_Classifier,
               "RealMLP_TD_Regressor": library.RealMLP_TD_Regressor,
               "TabM_D_Classifier": _TabMClassifier, "TabM_D_Regressor": _TabMRegressor}
