"""Runs: executing the step notebooks, their artifacts, manifests and verification.

- :mod:`analysis.runs.pipeline` runs, verifies and lists runs (papermill);
- :mod:`analysis.runs.artifacts` is the only way numbers travel from a step to the report;
- :mod:`analysis.runs.manifest` records what an auditor needs to re-run and compare;
- :mod:`analysis.runs.kernels` the Jupyter kernel manager (IPC sockets);
- :mod:`analysis.runs.notebook_outputs` the committed preview outputs of the step notebooks.

Submodules are imported on use, so that importing one does not load the others.
"""
