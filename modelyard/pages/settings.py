"""Settings: where the language model lives (Ollama's address), which model plans, and
which planner is the default; how many runs train at once and how much memory training
may use. Saved in `$MODELYARD_HOME/settings.json`; a flag or an environment variable wins
over what is saved here (`engine/settings.py`)."""

import os

import psutil
import streamlit as st

from modelyard.app.literal import literal
from modelyard.app.ui import show_error, workspace
from modelyard.app.views import ACTIVE
from modelyard.engine import jobs
from modelyard.engine.planning.llm import normalize_host, server_status

ws = workspace()
st.title("Settings")
now = ws.settings()
saved = ws.saved_settings()
host, source = now.ollama_host, now.sources["ollama_host"]
SOURCES = {"settings": "saved here", "default": "the default"}
where = SOURCES.get(source) or (f"from the {source} variable, which wins over an address "
                                "saved here while it is set")
PLANNERS = {"auto": "Language model if available, else rules",
            "ollama": "Language model only", "rules": "Rules only"}

st.subheader("Language model (Ollama)")
st.markdown("Modelyard can ask a language model running on this machine (through "
            "Ollama) to propose training plans. It only proposes: "
            "you review every plan, and nothing it writes is ever run as code. Without it, "
            "the rule planner proposes plans.")
typed = st.text_input("Ollama address", host, key="settings_host",
                      help=f"Now {where}. The default is http://127.0.0.1:11434.")
address = normalize_host(typed or host)
status = server_status(address)
if status["reachable"]:
    n = len(status["models"])
    st.success(f"Ollama {literal(status['version'])} answers at {literal(address)}: {n} model"
               f"{'' if n == 1 else 's'} installed.", icon=":material/check_circle:")
else:
    st.warning(f"Ollama does not answer at {literal(address)}. Plans will come from the rule "
               "planner until it does (start it with `ollama serve`).",
               icon=":material/cloud_off:")
    with st.expander("Technical detail"):
        st.code(status.get("error") or "", language="text")

models = [m["name"] for m in status["models"]]
model = None
if models:
    rows = {m["name"]: m for m in status["models"]}
    remembered = now.ollama_model
    model = st.selectbox(
        "Model", models, index=models.index(remembered) if remembered in models else 0,
        key="settings_model",
        format_func=lambda n: " · ".join(str(x) for x in (
            n, rows[n]["parameter_size"], rows[n]["quantization"],
            f"{rows[n]['size_gb']} GB") if x))
elif status["reachable"]:
    st.info("No model is installed yet. Install one with `ollama pull llama3.2`.")
elif now.ollama_model:
    st.caption(f"Remembered model: {literal(now.ollama_model)}")

planners = list(PLANNERS)
planner = st.radio("Default planner", planners,
                   index=planners.index(now.planner),
                   format_func=PLANNERS.get, key="settings_planner")
timeout = st.number_input("Seconds to wait for the model's answer", 5, 3600,
                          int(now.ollama_timeout), step=5,
                          key="settings_timeout")

st.subheader("Training")
cores = os.cpu_count() or 1
now_parallel = now.max_parallel_runs
runs_at_once = st.number_input(
    "Runs that train at the same time", 1, max(cores, now_parallel), now_parallel,
    key="settings_parallel",
    help=f"Further runs wait in a queue. Each running run shares this machine's {cores} "
         "cores; the default is one run per two cores."
         + (" Now fixed by MODELYARD_MAX_PARALLEL_RUNS."
            if now.fixed_by_env("max_parallel_runs") else ""))
total_gb = psutil.virtual_memory().total / 2**30
memory_gb = st.number_input(
    "Memory training may use (GB; 0 = whatever is free)", 0.0,
    max(round(total_gb, 1), now.memory_limit_gb), now.memory_limit_gb, step=1.0,
    key="settings_memory",
    help=f"This machine has {total_gb:.0f} GB. A trial that would need more is skipped or "
         "retried smaller, and a fit that grows past it is stopped and recorded as out of "
         "memory; the run goes on with other models."
         + (" Now fixed by MODELYARD_MEMORY_LIMIT_GB."
            if now.fixed_by_env("memory_limit_gb") else ""))

st.subheader("Training on several machines")
st.markdown("A run can share its search with other computers: each fits models too, and "
            "this machine gathers their results into one leaderboard and one model. They "
            "meet in a PostgreSQL database every machine can reach. Leave this empty to "
            "train on this machine only (the default).")
storage_fixed = now.fixed_by_env("study_storage")
storage_typed = st.text_input(
    "Shared database (PostgreSQL address)", now.study_storage or "",
    key="settings_storage", disabled=bool(storage_fixed),
    placeholder="postgresql://modelyard@db-host:5432/modelyard",
    help="Keep the password out of the address: put it in ~/.pgpass on each machine "
         "(the address is written into each run's record)."
         + (" Now fixed by MODELYARD_STUDY_STORAGE." if storage_fixed else ""))
if storage_typed.strip():
    if st.button("Test the connection", key="settings_storage_test"):
        try:
            st.success(literal(ws.check_storage(storage_typed)))
        except Exception as exc:
            show_error(exc, "Could not reach the shared database")
    shared_runs = [r for r in ws.runs(statuses=ACTIVE)
                   if ws.run_record(r["id"]).get("study_storage")]
    st.markdown("On each other machine with Modelyard installed, once a run has started, "
                "run this (RUN is the run's id, shown on the Runs page; add `--data PATH` "
                "with a copy of the data set's train.parquet if the machine cannot reach "
                "this one's folder):")
    st.code(ws.join_command(shared_runs[0]["id"] if shared_runs else "RUN", storage_typed),
            language="bash")

c1, c2 = st.columns(2)
if c1.button("Save", type="primary", key="settings_save"):
    changes = {"planner": planner, "ollama_timeout": int(timeout)}
    # Like the address: a value equal to the default is not pinned, and a value an
    # environment variable fixes is not saved over.
    if not now.fixed_by_env("max_parallel_runs"):
        changes["max_parallel_runs"] = (int(runs_at_once) if int(runs_at_once)
                                        != jobs.default_parallel_runs() else None)
    if not now.fixed_by_env("memory_limit_gb"):
        changes["memory_limit_gb"] = float(memory_gb) or None
    if address != ws.settings_without_file().ollama_host or "ollama_host" in saved:
        changes["ollama_host"] = address
    if model:
        changes["ollama_model"] = model
    try:
        if not storage_fixed:
            changes["study_storage"] = (ws.storage_url(storage_typed)
                                        if storage_typed.strip() else None)
        ws.save_settings(**changes)
        st.success("Saved.")
    except Exception as exc:
        show_error(exc, "Could not save the settings")
if c2.button("Back to the defaults", key="settings_reset"):
    ws.reset_settings()
    for k in ("settings_host", "settings_model", "settings_planner", "settings_timeout",
              "settings_parallel", "settings_memory", "settings_storage"):
        st.session_state.pop(k, None)
    st.rerun()
