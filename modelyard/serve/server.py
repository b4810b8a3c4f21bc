"""Load bundles, bind the address, run uvicorn: what `modelyard serve` does once the
command line has named the bundles."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from modelyard.engine.errors import BadInputError
from modelyard.engine.training.bundle import Predictor, has_metadata, read_metadata
from modelyard.serve.app import ServedModel

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
IMAGE_REFUSAL = ("The server predicts tables only, for now.",
                 "Predict images with `modelyard predict MODEL FOLDER --out FILE` or on the "
                 "Predict page.")


def load(name: str, path: Path, *, trust_unsigned: bool = False, shown: str | None = None
         ) -> ServedModel:
    """The bundle at `path` (a bundle folder, a run folder or a zip) loaded through
    `Predictor.load`, its manifest checked; an image bundle is refused."""
    from modelyard.engine.results.artifacts import unpacked

    shown = shown or str(path)
    folder = unpacked(Path(path))
    kind = read_metadata(folder).kind if has_metadata(folder) else None
    if kind == "image":
        raise BadInputError(f"{shown} is an image model. {IMAGE_REFUSAL[0]}", IMAGE_REFUSAL[1])
    if kind == "forecast":
        raise BadInputError(f"{shown} is a forecasting model. The server predicts rows of "
                            "tables only, for now.", "Forecast with `modelyard predict "
                            "MODEL history.csv --out FILE` or on the Predict page.")
    if has_metadata(folder) and read_metadata(folder).kind == "audio":
        raise BadInputError(f"{shown} is a sound model; the server answers for tables only.",
                            "Predict recordings with `modelyard predict RUN FOLDER` or on the "
                            "Predict page.")
    if has_metadata(folder) and read_metadata(folder).as_dict().get("fusion"):
        raise BadInputError(f"{shown} is a late-fusion network (a table with images); the "
                            "server answers for table rows only, without image files.",
                            "Predict with `modelyard predict RUN table.csv` (its images next "
                            "to it) or on the Predict page.")
    predictor = Predictor.load(folder, trust_unsigned=trust_unsigned, shown=shown)
    return ServedModel(name, predictor, source=shown)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or a message saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BadInputError(f"Cannot listen on {host}: {exc.strerror}.",
                            "Pass --host with an address of this machine.") from None
    family, kind, proto, _, address = infos[0]
    # With its protocol named (IPPROTO_TCP), asyncio sets TCP_NODELAY on each connection;
    # without, a small answer waited ~40 ms for a delayed ACK (Nagle), measured here.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        taken = "in use" in str(exc).lower()
        raise BadInputError(f"Cannot listen on {host} port {port}: "
                            f"{'the port is taken' if taken else exc.strerror or exc}.",
                            "Pass another --port." if taken else
                            "Pass --host with an address of this machine.") from None
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(models: list[ServedModel], *, host: str, port: int, token: str | None,
          max_body_bytes: int, say: Callable[[str], None] = print) -> None:
    """Serve `models` until interrupted (Ctrl+C or SIGTERM end it gracefully)."""
    import uvicorn

    from modelyard.serve.app import create_app

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(models, token=token, max_body_bytes=max_body_bytes)
    sock = bind(host, port)
    url = address(sock)
    first = models[0].name
    say(f"modelyard: serving at {url} (stop with Ctrl+C)")
    say(f"  {url}/predict and {url}/metadata: “{first}”")
    for model in models:
        say(f"  {url}/models/{model.name}/predict: {model.source}")
    say(f"  {url}/docs: the columns each model reads; {url}/openapi.json")
    if token:
        say("  every route but /health needs the header “Authorization: Bearer <token>”")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
