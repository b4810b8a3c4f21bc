"""Results a person can use, from a finished Run's folder and the catalog.

    artifacts    a finished Run (or an exported bundle) opened for reading
    diagnostics  confusion matrix, ROC/PR/calibration curves, residuals from oof.parquet
    explain      feature importance and per-row contributions
    compare      is the leader reliably better (paired fold test); two Runs side by side
    tuning       which settings mattered (Optuna's PED-ANOVA) from the catalog's trials
    figures      the plotly charts of all of the above (pages and reports draw the same)
    predict      new rows checked against the training columns, predicted in batches
    submission   a competition's submission.csv in exactly its sample's format
    export       the Model bundle as a folder and a zip that loads without Modelyard's app
    report       a readable HTML/Markdown report with a model card
    housekeeping rename, delete (dependents named first), disk use, checkpoint clean-up

No Streamlit here; pages and the CLI call these and render the results.
"""
