"""The prediction server: Model bundles answering other programs over HTTP.

    modelyard serve RUN_OR_BUNDLE [NAME=RUN_OR_BUNDLE ...] [--port 8000] [--host] [--token]

Policy and its trade-offs:

- **Bundles load only through `Predictor.load`**, so the SHA-256 manifest is checked
  before a pickle is opened (engine/training/manifest.py); each is loaded once, at start.
- **The same column checks as the Predict page** (`engine/results/predict.py`). A server
  has nobody to read a warning, so by default any missing, extra or wrongly typed column
  is refused (HTTP 422, naming it, what to send and what would happen); `?strict=false`
  predicts anyway, as the page does, and lists what was done in `notes`.
- **Bad requests are 4xx with a sentence**: malformed JSON or CSV (400), a body over the
  cap (413; `--max-body-mb`, default 16 MB: ~100,000 rows of a 20-column table), a
  content type other than JSON or CSV (415), no or a wrong token (401). Anything
  unexpected is logged with its traceback and answered with a plain 500 message.
- **Threads, no global lock**: each request is parsed on the event loop and predicted in
  the thread pool; scikit-learn and LightGBM release the GIL while they predict, and a
  loaded pipeline is only read, so requests for one model overlap.
- **This machine only, by default**: it listens on 127.0.0.1; another address must be
  asked for with `--host` and is said as a warning. A bearer token (`--token`, else
  MODELYARD_SERVE_TOKEN, else the settings file) guards every route but `/health`.
- **Tables only, for now**: an image bundle is refused at start with a message.
- **No page from the internet**: FastAPI's Swagger page loads its scripts from a CDN, so
  `/docs` is a small page of our own; `/openapi.json` is the full description.

FastAPI and uvicorn are imported only by `app.py` and `server.py`, never at CLI start.
"""
