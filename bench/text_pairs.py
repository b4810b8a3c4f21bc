"""Text-normalisation pairs spelled out by num2words (a well-kept package), for the
text-to-text tests and bench: dates, years, amounts, ordinals and numbers written as a
person says them, and plain words that stay as they are (so copying the input is a real
baseline, right on those rows only).

`pairs(n, seed)` draws distinct inputs; `split(...)` keeps every input of the test part
out of the training part, so a score on it is a score on inputs never seen in training.
"""

from __future__ import annotations

import random

import pandas as pd

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WORDS = ["the", "meeting", "is", "on", "and", "costs", "about", "page", "room", "call",
         "for", "train", "leaves", "at", "hello", "world", "invoice", "order", "ticket",
         "box", "river", "green", "table", "music", "paper", "window", "garden", "street"]


def _say(text: str) -> str:
    # num2words writes "twenty-four" and "one thousand, two hundred": speech has neither.
    return text.replace("-", " ").replace(",", "")


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _one(rng: random.Random) -> tuple[str, str]:
    from num2words import num2words

    kind = rng.choices(["date", "year", "money", "ordinal", "number", "word"],
                       weights=[3, 2, 2, 2, 2, 3])[0]
    if kind == "date":
        month, day, year = rng.randrange(12), rng.randint(1, 28), rng.randint(1950, 2049)
        written = f"{MONTHS[month][:3]} {day}{_suffix(day)} {year}"
        spoken = (f"{MONTHS[month].lower()} {num2words(day, to='ordinal')} "
                  f"{num2words(year, to='year')}")
        return written, _say(spoken)
    if kind == "year":
        year = rng.randint(1900, 2099)
        return str(year), _say(num2words(year, to="year"))
    if kind == "money":
        amount = rng.randint(1, 999)
        return f"${amount}", _say(num2words(amount)) + (" dollar" if amount == 1 else " dollars")
    if kind == "ordinal":
        n = rng.randint(1, 99)
        return f"{n}{_suffix(n)}", _say(num2words(n, to="ordinal"))
    if kind == "number":
        n = rng.randint(0, 9999)
        return str(n), _say(num2words(n))
    word = rng.choice(WORDS)
    if rng.random() < 0.5:
        word = word.capitalize() if rng.random() < 0.3 else word
        return word, word
    phrase = f"{word} {rng.choice(WORDS)}"
    return phrase, phrase


def pairs(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` rows of (written, spoken) with distinct `written` values (plain words repeat)."""
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        written, spoken = _one(rng)
        if written in seen and written != spoken:
            continue
        seen.add(written)
        rows.append((written, spoken))
    return pd.DataFrame(rows, columns=["written", "spoken"])


def split(n_train: int, n_test: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A training table and a test table whose inputs never occur in training."""
    table = pairs(n_train + n_test, seed)
    test = table.iloc[n_train:]
    train = table.iloc[:n_train]
    test = test[~test["written"].isin(set(train["written"]))]
    return train.reset_index(drop=True), test.reset_index(drop=True)
