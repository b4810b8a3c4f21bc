"""A table whose rows point at drawn images, where both kinds of data carry signal.

Each row has a picture (a filled shape on a grey ground, at a random place and size) whose
colour (red, green or blue, jittered) moves the target one way or the other; a numeric
column (`dose`) and a categorical one (`site`) move it too; `weight` and a short free-text
`note` are noise. The target (`outcome`, yes/no) is the sign of the sum plus noise, so a
model that sees only the table or only the images is right for part of the rows, and one
that sees both for more.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}
COLOUR_EFFECT = {"red": -1.4, "green": 0.0, "blue": 1.4}
SITE_EFFECT = {"north": -0.7, "south": -0.2, "east": 0.2, "west": 0.7}
WORDS = "calm busy late early cold warm dry wet long short quiet loud".split()


def draw(path: Path, colour: str, rng: np.random.Generator, size: int = 32) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(110, 150, 3)))
    pen = ImageDraw.Draw(img)
    r = int(rng.integers(size // 5, size // 3))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    fill = tuple(int(np.clip(c + rng.normal(0, 20), 0, 255)) for c in COLOURS[colour])
    box = (cx - r, cy - r, cx + r, cy + r)
    (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(box, fill=fill)
    img.save(path)


def make_mixed(root: Path, n: int, seed: int = 0, *, name: str = "patients.csv",
               damaged: int = 0, missing: int = 0, text: bool = True) -> Path:
    """Write `root/name` and `root/photos/*.png`; `damaged` rows point at a file that is
    not an image, `missing` rows at a file that does not exist. Returns the table."""
    rng = np.random.default_rng(seed)
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    colour = rng.choice(list(COLOURS), n)
    site = rng.choice(list(SITE_EFFECT), n)
    dose = rng.normal(0, 1, n)
    score = (np.array([COLOUR_EFFECT[c] for c in colour]) + 1.0 * dose
             + np.array([SITE_EFFECT[s] for s in site]) + rng.normal(0, 0.5, n))
    paths = []
    for i in range(n):
        rel = f"photos/p{i:05d}.png"
        if i < damaged:
            (root / rel).write_bytes(b"this is not a picture")
        elif i < damaged + missing:
            rel = f"photos/gone{i:05d}.png"
        else:
            draw(root / rel, colour[i], rng)
        paths.append(rel)
    frame = pd.DataFrame({"photo": paths, "dose": dose.round(3), "site": site,
                          "weight": rng.normal(70, 10, n).round(1),
                          "outcome": np.where(score > 0, "yes", "no")})
    if text:
        frame.insert(4, "note", [" ".join(rng.choice(WORDS, 10)) for _ in range(n)])
    table = root / name
    frame.to_csv(table, index=False)
    return table
