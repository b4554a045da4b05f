"""Prefect flows that chain the stages in ``tasks/``."""
