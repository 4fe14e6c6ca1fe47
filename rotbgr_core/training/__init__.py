"""Training, data and evaluation tools for the RotBGR model."""
