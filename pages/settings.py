"""Settings: where the language model lives (Ollama's address), which model plans, and
which planner is the default. Saved in `$MODELYARD_HOME/settings.json`."""

import streamlit as st

from app.ui import workspace
from engine.planning.llm import DEFAULT_TIMEOUT, normalize_host, resolve_host, server_status
from storage import settings as settings_store

ws = workspace()
st.title("Settings")
saved = settings_store.load(ws.home)
host, source = resolve_host(None, saved.get("ollama_host"))
SOURCES = {"settings": "saved here", "OLLAMA_HOST": "from the OLLAMA_HOST variable",
           "default": "the default"}
PLANNERS = {"auto": "Language model if available, else rules",
            "ollama": "Language model only", "rules": "Rules only"}

st.subheader("Language model (Ollama)")
st.markdown("Modelyard can ask a language model running on this machine (through "
            "Ollama) to propose training plans. It only proposes: "
            "you review every plan, and nothing it writes is ever run as code. Without it, "
            "the rule planner proposes plans.")
typed = st.text_input("Ollama address", host, key="settings_host",
                      help=f"Now {SOURCES[source]}. The default is http://127.0.0.1:11434.")
address = normalize_host(typed or host)
status = server_status(address)
if status["reachable"]:
    n = len(status["models"])
    st.success(f"Ollama {status['version']} answers at {address}: {n} model"
               f"{'' if n == 1 else 's'} installed.", icon=":material/check_circle:")
else:
    st.warning(f"Ollama does not answer at {address}. Plans will come from the rule "
               "planner until it does (start it with `ollama serve`).",
               icon=":material/cloud_off:")
    with st.expander("Technical detail"):
        st.code(status.get("error") or "", language="text")

models = [m["name"] for m in status["models"]]
model = None
if models:
    rows = {m["name"]: m for m in status["models"]}
    remembered = saved.get("ollama_model")
    model = st.selectbox(
        "Model", models, index=models.index(remembered) if remembered in models else 0,
        key="settings_model",
        format_func=lambda n: " · ".join(str(x) for x in (
            n, rows[n]["parameter_size"], rows[n]["quantization"],
            f"{rows[n]['size_gb']} GB") if x))
elif status["reachable"]:
    st.info("No model is installed yet. Install one with `ollama pull llama3.2`.")
elif saved.get("ollama_model"):
    st.caption(f"Remembered model: {saved['ollama_model']}")

planners = list(PLANNERS)
planner = st.radio("Default planner", planners,
                   index=planners.index(saved.get("planner", "auto")),
                   format_func=PLANNERS.get, key="settings_planner")
timeout = st.number_input("Seconds to wait for the model's answer", 5, 3600,
                          int(saved.get("ollama_timeout") or DEFAULT_TIMEOUT), step=5,
                          key="settings_timeout")

c1, c2 = st.columns(2)
if c1.button("Save", type="primary", key="settings_save"):
    changes = {"planner": planner, "ollama_timeout": int(timeout)}
    if address != resolve_host(None, None)[0] or source == "settings":
        changes["ollama_host"] = address
    if model:
        changes["ollama_model"] = model
    settings_store.update(ws.home, **changes)
    st.success("Saved.")
if c2.button("Back to the defaults", key="settings_reset"):
    settings_store.update(ws.home, ollama_host=None, ollama_model=None, planner=None,
                          ollama_timeout=None)
    for k in ("settings_host", "settings_model", "settings_planner", "settings_timeout"):
        st.session_state.pop(k, None)
    st.rerun()
