"""Plain-language findings about a Profile, each with a severity and what to do about it.

A pure function of the Profile, so it can be recomputed when the person changes a role
or the target without touching the data again.
"""

from __future__ import annotations

from modelyard.schemas import ColumnKind, ColumnProfile, ColumnRole, Profile, Task, Warning_

NEAR_CONSTANT = 0.99
HEAVY_MISSING = 0.5
MOSTLY_MISSING = 0.9
HIGH_CARDINALITY = 100
LEAK_SCORE = 0.97
RARE_CLASS = 5  # fewer rows than this in a class and cross-validation cannot stratify
DRIFT = 0.25
_FUTURE_WORDS = ("end", "close", "closed", "cancel", "resolved", "resolution", "churn",
                 "termination", "terminated", "exit", "left", "discharge", "death",
                 "updated", "last", "completed", "finish", "paid", "settled")
_IGNORE = ColumnRole.ignore
_MANIFEST_COLUMNS = {"path", "width", "height"}  # an image set's own bookkeeping
# A sound set's own bookkeeping (engine/intake/audio.py).
_AUDIO_COLUMNS = {"path", "seconds", "sample_rate", "channels", "peak", "clipped", "sha256"}


def warnings_for(profile: Profile) -> list[Warning_]:
    """Every finding, errors first."""
    found: list[Warning_] = []
    target = profile.target.column if profile.target else None
    labels = set(profile.findings.get("multi_label_columns") or [])
    for col in profile.columns:
        if col.role is None and col.name not in labels:
            found += _column_warnings(profile, col, target)
    found += _target_warnings(profile, target)
    found += _dataset_warnings(profile)
    found += _word_warnings(profile)
    found += _mixed_warnings(profile)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda w: order.get(w.severity, 3))


def _w(severity: str, code: str, message: str, action: str, column: str | None = None,
       role: ColumnRole | None = None) -> Warning_:
    return Warning_(severity=severity, code=code, column=column, message=message,
                    action=action, suggested_role=role)


def _short(value: str, limit: int = 60) -> str:
    """A value as quoted in a message: a cell can hold a whole document."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _column_warnings(profile: Profile, col: ColumnProfile, target: str | None):
    name = col.name
    if name == target or (profile.images is not None and name in _MANIFEST_COLUMNS):
        return []
    if profile.audio is not None and name in _AUDIO_COLUMNS:
        return []
    out = []
    if col.kind is ColumnKind.constant:
        out.append(_w("info", "constant", f"“{name}” has the same value in every row.",
                      "It will be ignored: it cannot help a model.", name))
    elif col.top_share is not None and col.top_share >= NEAR_CONSTANT and profile.n_rows >= 100:
        out.append(_w("info", "near_constant",
                      f"“{name}” has one value in {col.top_share:.1%} of rows.",
                      "It can hardly help a model; ignore this column.", name, _IGNORE))
    elif name == (profile.findings.get("text_to_text") or {}).get("input"):
        pass  # the text the outputs are written from: unique by nature, and used
    elif col.kind is ColumnKind.id:
        out.append(_w("info", "id_like", f"“{name}” looks like an identifier (almost every "
                      "value is unique).", "It will be ignored for training and kept to "
                      "label predictions.", name, ColumnRole.id))
    elif col.kind is ColumnKind.categorical and col.n_distinct > HIGH_CARDINALITY and (
            col.n_distinct > 0.5 * profile.n_rows or col.n_distinct > 1000):
        out.append(_w("warning", "high_cardinality", f"“{name}” has {col.n_distinct:,} "
                      "different values, too many to learn from as categories.",
                      "Ignore this column, or mark it as an id or as text.", name, _IGNORE))
    if col.missing_share >= HEAVY_MISSING:
        mostly = col.missing_share >= MOSTLY_MISSING
        out.append(_w("warning", "missing", f"“{name}” is missing in "
                      f"{col.missing_share:.0%} of rows.",
                      "Ignore this column." if mostly else
                      "Consider ignoring it; otherwise gaps are filled in.",
                      name, _IGNORE if mostly else None))
    if col.association_method in ("identical", "one-to-one"):
        how = "a copy of" if col.association_method == "identical" else "one-to-one with"
        out.append(_w("error", "target_copy", f"“{name}” is {how} the target “{target}”: "
                      "a model would learn nothing real from it.",
                      "Ignore this column (or make it the target).", name, _IGNORE))
    elif (col.alone_score is not None and col.alone_score >= LEAK_SCORE
          and not (profile.findings.get("forecasting") and name == profile.time_column)):
        # (In a time series the time stamp following the target is the trend, not a
        # leak: the "forecasting" finding says how to use it.)
        if col.kind is ColumnKind.datetime:
            message = (f"The date “{name}” alone predicts the target almost perfectly "
                       f"(score {col.alone_score:.2f}): it is probably recorded after the "
                       "outcome and leaks the future.")
        else:
            message = (f"“{name}” alone predicts the target almost perfectly (score "
                       f"{col.alone_score:.2f} on rows it was not fitted on): it may leak "
                       "the answer.")
        out.append(_w("error", "leakage", message, "Unless it is known before the outcome, "
                      "ignore this column.", name, _IGNORE))
    elif col.kind is ColumnKind.datetime and target and _sounds_after(name):
        out.append(_w("warning", "future_date", f"The date “{name}” sounds like it is "
                      "recorded after the outcome; a model trained on it would peek into "
                      "the future.", "Ignore this column unless it is known at prediction "
                      "time.", name, _IGNORE))
    if col.drift is not None and col.drift >= DRIFT:
        out.append(_w("warning", "drift", f"“{name}” is distributed differently in the test "
                      f"file (difference {col.drift:.2f} on a 0–1 scale).",
                      "Predictions may be less accurate; check how the test rows were "
                      "collected.", name))
    return out


def _sounds_after(name: str) -> bool:
    words = name.lower().replace("-", "_").replace(" ", "_").split("_")
    return any(w in _FUTURE_WORDS for w in words)


def _target_warnings(profile: Profile, target: str | None) -> list[Warning_]:
    out = []
    findings = profile.findings
    if target is None:
        if profile.images is None and profile.audio is None:
            out.append(_w("error", "no_target", "No column can serve as the thing to predict: "
                          "every column is an identifier, constant, free text or a date.",
                          "Add a column with the outcome you want to predict, or mark a "
                          "column's role differently. Modelyard cannot train without one "
                          "yet."))
        return out
    col = profile.column(target)
    if col.missing_share >= 1.0:
        out.append(_w("error", "target_empty", f"The target “{target}” is empty in every row.",
                      "Choose another target column.", target))
    elif col.n_missing:
        out.append(_w("warning", "target_missing", f"The target “{target}” is missing in "
                      f"{col.n_missing} rows.", "Those rows will be left out of training.",
                      target))
    if profile.target.task is Task.multilabel:
        return out + _label_warnings(profile, target)
    if sep := findings.get("multi_label"):
        out.append(_w("info", "multi_label", f"“{target}” lists several labels per row "
                      f"(separated by “{sep}”), but is set to be predicted as one category "
                      "per combination.", "Set the task to “Several yes/no labels at once” "
                      "to learn each label on its own (multi-label).", target))
    if outputs := findings.get("multi_output"):
        out.append(_w("error", "multi_output", f"The sample submission asks for "
                      f"{len(outputs)} columns at once ({', '.join(outputs[:5])}): "
                      "predicting several targets together is not supported yet.",
                      "Train one data set per output column: set each as the target in "
                      "turn.", target))
    if pair := findings.get("text_to_text"):
        out.append(_w("info", "text_to_text", f"“{target}” looks like text written from "
                      f"“{pair['input']}” (short, nearly every row different, sharing its "
                      "characters): it is trained as text to text, the output written "
                      "character by character, not chosen among classes.",
                      "If it is a category after all, choose the kind of problem on the "
                      "Plan page.", target))
    if findings.get("forecasting"):
        out.append(_w("info", "forecasting", f"The rows look like a time series (ordered by "
                      f"“{profile.time_column}”): Modelyard can forecast the future values "
                      f"of “{target}”.", "To forecast, choose “Forecast future values” on "
                      f"the Plan page, or run `modelyard run FILE --target {target} --time "
                      f"{profile.time_column} --horizon N`. Otherwise the target is learnt "
                      "from the other columns of the same row: make sure those are known "
                      "at prediction time.", target))
    if profile.target.task.is_classification and profile.class_balance:
        counts = profile.class_balance
        if len(counts) < 2:
            out.append(_w("error", "single_class", f"The target “{target}” has a single "
                          "class: there is nothing to learn.", "Choose another target, or "
                          "add rows of the other classes.", target))
        else:
            rare = [(v, n) for v, n in counts if n < RARE_CLASS]
            if rare:
                shown = ", ".join(f"“{_short(v)}” ({n})" for v, n in rare[:5])
                out.append(_w("warning", "rare_classes", f"Some classes of “{target}” have "
                              f"very few rows: {shown}.", "Merge them into a larger class or "
                              "drop those rows; models cannot learn a class from a handful "
                              "of examples.", target))
            total = sum(n for _, n in counts)
            smallest = counts[-1][1]
            if not rare and total and smallest / total < 0.01:
                out.append(_w("info", "imbalance", f"The classes of “{target}” are very "
                              f"unbalanced: “{_short(counts[-1][0])}” is {smallest / total:.2%} of "
                              "rows.", "Judge models by ROC AUC or F1 rather than accuracy.",
                              target))
    return out


def _label_warnings(profile: Profile, target: str) -> list[Warning_]:
    """A multi-label target: what was understood, and labels that cannot be learnt."""
    counts = profile.class_balance
    columns = profile.findings.get("multi_label_columns")
    sep = profile.findings.get("multi_label")
    what = (f"{len(columns)} label columns ({', '.join(columns[:6])})" if columns else
            f"the labels in “{target}”, separated by “{sep}”")
    out = [_w("info", "multi_label", f"Multi-label: each row may have several of "
              f"{what}; one yes/no answer is learnt per label.",
              ("To predict the whole combination as one category instead, set the task to "
               "“One of several categories”." if sep else
               "To predict one column only, choose it alone as the target."), target)]
    if len(counts) < 2:
        out.append(_w("error", "single_label", f"Only one label is found ({what}): that is "
                      "a yes/no question, not a multi-label one.", "Set the task to “Yes or "
                      "no”, or name more label columns.", target))
    never = [v for v, n in counts if n == 0]
    always = [v for v, n in counts if n >= profile.n_rows]
    if never or always:
        said = ([f"“{_short(v)}” is never 1" for v in never[:5]]
                + [f"“{_short(v)}” is always 1" for v in always[:5]])
        out.append(_w("error", "constant_label", f"Some labels never change: "
                      f"{'; '.join(said)}.", "Leave them out: name only the label columns "
                      "that are sometimes 0 and sometimes 1.", target))
    rare = [(v, n) for v, n in counts if 0 < n < RARE_CLASS]
    if rare:
        shown = ", ".join(f"“{_short(v)}” ({n})" for v, n in rare[:5])
        out.append(_w("warning", "rare_labels", f"Some labels are on in very few rows: "
                      f"{shown}.", "Models cannot learn a label from a handful of examples; "
                      "leave them out or add rows.", target))
    return out


def _dataset_warnings(profile: Profile) -> list[Warning_]:
    out = []
    if profile.duplicate_rows:
        out.append(_w("info", "duplicates", f"{profile.duplicate_rows:,} rows are exact "
                      "duplicates of another row.",
                      "Usually harmless; remove them if they are mistakes."))
    if profile.train_test_overlap:
        out.append(_w("warning", "train_test_overlap", f"{profile.train_test_overlap:,} test "
                      "rows also appear in the training data.", "Scores on them will look "
                      "better than they are; check how the test file was made."))
    if missing := profile.findings.get("test_missing_columns"):
        out.append(_w("warning", "test_missing_columns", "The test file lacks "
                      f"{len(missing)} column(s) the training data has: "
                      f"{', '.join(missing[:5])}.", "Ignore those columns, or add them to "
                      "the test file, before training."))
    renamed = profile.source.get("renamed") or {}
    if renamed:
        shown = ", ".join(f"{a} → {b}" for a, b in list(renamed.items())[:5])
        out.append(_w("info", "renamed", f"Some column names were blank or repeated and were "
                      f"renamed: {shown}.", "Rename them in the file if you prefer."))
    if skipped := profile.source.get("lines_before_table"):
        shown = ", ".join(f"“{_short(ln, 80)}”" for ln in profile.source.get("preamble") or [])
        lines, come, were = (("line", "comes", "was") if skipped == 1
                             else (f"{skipped} lines", "come", "were"))
        out.append(_w("info", "preamble", f"The first {lines} of the file {come} before the "
                      f"table's header and {were} skipped ({shown}).", "Nothing to do unless "
                      "the table starts earlier; then remove those lines from the file."))
    if written := profile.source.get("numbers_in_text"):
        shown = "; ".join(f"“{c}”: {how}" for c, how in list(written.items())[:5])
        more = f"; and {len(written) - 5} more" if len(written) > 5 else ""
        out.append(_w("info", "numbers_in_text", f"Numbers written as text were read as "
                      f"numbers: {shown}{more}.", "Nothing to do if they are amounts or "
                      "measures: new rows are read the same way when predicting.",
                      next(iter(written)) if len(written) == 1 else None))
    if mixed := profile.source.get("mixed_encoding"):
        counts = " and ".join(f"{n:,} in {name}" for name, n in mixed.items())
        out.append(_w("warning", "mixed_encoding", f"The file mixes text encodings: lines "
                      f"with accents or symbols are {counts}. Each line was read in its own "
                      "encoding.", "Check a few values with accents (é, €); saving the file "
                      "as UTF-8 removes the doubt."))
    sheets = profile.source.get("sheets") or []
    if profile.source.get("format") == "excel" and len(sheets) > 1:
        sheet = profile.source.get("sheet")
        others = ", ".join(f"“{s}”" for s in sheets if s != sheet)
        how = "as chosen" if profile.source.get("sheet_chosen") else \
            "the first that holds a table"
        out.append(_w("info", "sheet", f"Read the sheet “{sheet}” of "
                      f"{profile.source.get('file', 'the workbook')} ({how}); its other "
                      f"sheets are {others}.", "To read another one, add the file again "
                      "and choose its sheet."))
    if profile.images is not None and profile.images.n_skipped:
        images = profile.images
        out.append(_w("warning", "skipped_files", f"{images.n_skipped} file(s) were left out: "
                      f"{'; '.join(images.skipped[:3])}.", "Remove or fix them if they "
                      "should be images."))
    if profile.audio is not None:
        out += _audio_warnings(profile.audio)
    return out


def _audio_warnings(audio) -> list[Warning_]:
    """Recordings left out, silent, clipped or repeated (engine/intake/audio.py)."""
    out = []
    if audio.n_skipped:
        out.append(_w("warning", "skipped_files", f"{audio.n_skipped} file(s) were left "
                      f"out: {'; '.join(audio.skipped[:3])}.", "Remove or fix them if they "
                      "should be recordings (.wav, .flac, .ogg or .mp3)."))
    if audio.n_silent:
        out.append(_w("warning", "silent_clips", f"{audio.n_silent} recording(s) are silent: "
                      f"{', '.join(audio.silent[:3])}.", "Listen to them; remove them if "
                      "they hold nothing."))
    if audio.n_clipped:
        out.append(_w("info", "clipped_clips", f"{audio.n_clipped} recording(s) are clipped "
                      f"(too loud, cut at full scale): {', '.join(audio.clipped[:3])}.",
                      "Usually harmless; record them more quietly if you can."))
    if audio.n_duplicates:
        first = audio.duplicates[0] if audio.duplicates else []
        out.append(_w("warning", "duplicate_clips", f"{audio.n_duplicates} recording(s) "
                      f"repeat another one exactly (for example {' = '.join(first[:2])}).",
                      "A repeated clip can land in training and validation at once and "
                      "flatter the score: remove the copies."))
    return out


# -- cells reading "None", "NA", ... (engine/intake/missing_words.py) ---------------------------
WORD_CODES = ("words_kept", "words_missing", "words_in_numbers")


def _cells(counts: dict[str, int]) -> str:
    """“400 cells reading “None” and 3 reading “NA””."""
    parts = [f"{n:,} {'cell' if n == 1 else 'cells'} reading “{w}”" if i == 0 else
             f"{n:,} reading “{w}”"
             for i, (w, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]))]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _listed(found, limit: int = 4) -> str:
    shown = "; ".join(f"“{w.column}”: {_cells(w.counts)}" for w in found[:limit])
    return shown + (f"; and {len(found) - limit} more" if len(found) > limit else "")


def _word_warnings(profile: Profile) -> list[Warning_]:
    """Words such as “None” or “NA”: kept as values in text, read as missing among numbers
    or dates; each said, so nothing turns into a gap unseen."""
    out = []
    kept = [w for w in profile.missing_words if w.values == "text" and not w.as_missing]
    chosen = [w for w in profile.missing_words if w.values == "text" and w.as_missing]
    numbers = [w for w in profile.missing_words if w.values != "text"]
    if len(kept) == 1:
        w = kept[0]
        kind = profile.column(w.column).kind if w.column in profile.column_names else None
        what = "a category" if kind is ColumnKind.categorical else "a value"
        out.append(_w("info", "words_kept", f"“{w.column}” has {_cells(w.counts)}: kept as "
                      f"{what}.", "If they mean “no value”, they can be treated as missing "
                      "instead.", w.column))
    elif kept:
        out.append(_w("info", "words_kept", f"{len(kept)} columns have cells reading a word "
                      f"that often means “no value”: {_listed(kept)}. They are kept as "
                      "values.", "If they mean “no value”, they can be treated as missing "
                      "instead."))
    if chosen:
        out.append(_w("info", "words_missing", f"Treated as missing, as you chose: "
                      f"{_listed(chosen)}.", "Training and predictions read them so; this "
                      "can be undone.", chosen[0].column if len(chosen) == 1 else None))
    if numbers:
        what = " or ".join(sorted({w.values for w in numbers}, reverse=True))
        out.append(_w("info", "words_in_numbers", f"In columns of {what}, these cells were "
                      f"read as missing: {_listed(numbers)}.", "That is what they usually "
                      "mean there; nothing to do unless they mean something else.",
                      numbers[0].column if len(numbers) == 1 else None))
    return out


def _mixed_warnings(profile: Profile) -> list[Warning_]:
    """A table whose rows point at images: what was found, and the files left out."""
    mixed = profile.mixed
    if mixed is None:
        return []
    names = ", ".join(f"“{c}”" for c in mixed.image_columns)
    out = [_w("info", "mixed", f"Rows point at images ({names}) next to other columns: "
              f"{mixed.n_with_image:,} of {mixed.n_rows:,} rows have a readable image.",
              "Training compares models on the table alone, on the images alone and on "
              "both joined, so you see what each adds.")]
    if mixed.n_skipped:
        shown = "; ".join(_short(s) for s in mixed.skipped[:3])
        out.append(_w("warning", "images_skipped", f"{mixed.n_skipped:,} image file(s) named "
                      f"in the table could not be used ({shown}"
                      f"{' …' if mixed.n_skipped > 3 else ''}).",
                      "Those rows are kept without an image; add the files next to the "
                      "table (paths relative to it) and add the data again to use them."))
    return out
