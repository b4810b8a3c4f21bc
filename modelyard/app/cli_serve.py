"""`modelyard serve`: name the bundles (runs, run folders, bundle folders or zips, as
`modelyard predict` takes them), then hand them to `modelyard.serve.server`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from modelyard.engine.errors import BadInputError, NotFoundError
from modelyard.engine.training.manifest import loading_warning

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def add_parser(sub) -> None:
    s = sub.add_parser(
        "serve", help="answer predictions over HTTP (a run's model or a bundle)",
        description="Serve Model bundles over HTTP: POST rows as JSON or CSV to /predict, "
                    "GET /metadata, /health, /docs, /openapi.json. Several models: "
                    "NAME=RUN_OR_BUNDLE, served at /models/NAME/predict. "
                    + loading_warning("serve") + ". Tables only, for now.")
    s.add_argument("models", nargs="+", metavar="[NAME=]RUN_OR_BUNDLE",
                   help="a run id or name, or a path to a run folder, a bundle folder or a "
                        "zip (as for `modelyard predict`); the first is also served at "
                        "/predict. NAME defaults to the run's or folder's name")
    s.add_argument("--port", type=int, default=8000, help="default 8000; 0 picks a free one")
    s.add_argument("--host", default="127.0.0.1",
                   help="where to listen (default 127.0.0.1: this machine only); another "
                        "address lets other machines in, and is said as a warning")
    s.add_argument("--token", help="a bearer token every route but /health asks for "
                   "(default: $MODELYARD_SERVE_TOKEN, else the settings file, else none); "
                   "the process list shows a flag to other users, the variable it does not")
    s.add_argument("--max-body-mb", type=float, default=None,
                   help="the largest request body read (default: "
                        "$MODELYARD_SERVE_MAX_BODY_MB, else 16)")
    s.add_argument("--trust-unsigned", action="store_true",
                   help="load a bundle that has no manifest.json: only if you trust where "
                        "it came from")


def slug(name: str) -> str:
    """A name usable in a URL path."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:64] or "model"


def _split(given: str) -> tuple[str | None, str]:
    name, sep, ref = given.partition("=")
    if sep and NAME.match(name) and ref:
        return name, ref
    return None, given


def _bundle(ws, ref: str, trust_unsigned: bool) -> tuple[Path, bool, str, str]:
    """(path, trusted, shown, default name) for a run id/name or a path."""
    from modelyard.app.cli_results import is_path
    from modelyard.engine.results.artifacts import open_run

    if is_path(ref):
        path = Path(ref).expanduser()
        own = path.resolve().is_relative_to(ws.home.runs.resolve())
        named = path.stem if path.suffix.lower() == ".zip" else path.resolve().name
        if named == "model":
            named = path.resolve().parent.name
        return path, trust_unsigned or own, ref, named
    try:
        run_id = ws.resolve_run(ref)
    except NotFoundError as exc:
        if Path(ref).exists():
            raise NotFoundError(f"There is no run “{ref}”.",
                                f"To serve the bundle “{ref}”, write it as a path: ./{ref} "
                                "(loading a bundle runs its code: only one you trust)."
                                ) from exc
        raise
    result = open_run(ws.home, run_id)
    if result.note:
        print(f"modelyard: note: {result.note}", file=sys.stderr)
    return result.model_dir, True, f"run {run_id} (“{result.name}”)", result.name


def command(ws, args: argparse.Namespace) -> int:
    import importlib.util
    import os

    # Before any model library loads OpenMP: a spinning OpenMP thread waits for the next
    # request's work while other requests need the core (a single LightGBM row took 32 ms
    # spinning and 9 ms passive here, on 2 busy cores; throughput was the same).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise BadInputError(f"The prediction server needs {' and '.join(missing)}, which "
                            "this installation lacks.", "Install them with "
                            "pip install 'modelyard[serve]', then try again.")
    from modelyard.serve import server

    found, names = [], set()
    for given in args.models:
        name, ref = _split(given)
        path, trusted, shown, default = _bundle(ws, ref, args.trust_unsigned)
        name = name or slug(default)
        if name in names:
            raise BadInputError(f"Two models are named “{name}”.",
                                "Name them: NAME=RUN_OR_BUNDLE, e.g. a=run1 b=run2.")
        names.add(name)
        found.append((name, path, trusted, shown))
    if not server.is_loopback(args.host):
        print(f"modelyard: warning: the server will listen on {args.host}, not only on this "
              "machine: anyone who can reach that address can use the models"
              + ("." if args.token or ws.settings().serve_token else
                 ", and no --token guards them."), file=sys.stderr)
    if not 0 <= args.port <= 65535:
        raise BadInputError(f"--port {args.port} is not a port.", "Give 0 to 65535.")
    resolved = ws.settings(serve_token=args.token, serve_max_body_mb=args.max_body_mb)
    models = [server.load(name, path, trust_unsigned=trusted, shown=shown)
              for name, path, trusted, shown in found]
    server.serve(models, host=args.host, port=args.port, token=resolved.serve_token,
                 max_body_bytes=int(resolved.serve_max_body_mb * 2**20))
    return 0
