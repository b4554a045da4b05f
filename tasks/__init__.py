"""The pipeline's stages as plain, typed functions (no Prefect, no MLflow).

``flows/`` wraps each one in a Prefect task; ``aefx stage NAME`` runs one for ``dvc repro``.
"""
