"""The classifier stage: labels, evaluation metrics (pure), and the Spark ML pipeline."""
