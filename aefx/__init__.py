"""aefx: autoencoder feature extraction as a reproducible pipeline."""

__version__ = "0.1.0"
