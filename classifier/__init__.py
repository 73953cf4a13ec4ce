"""The viewpoint classifier: model, training input, inference and reports."""
