"""MLflow "model from code" entry: the logged encoder is rebuilt from this file, not unpickled."""

import mlflow.models

from aefx.serving import EncoderModel

mlflow.models.set_model(EncoderModel())
