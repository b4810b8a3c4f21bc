"""All ML and data work. Nothing here imports Streamlit."""
