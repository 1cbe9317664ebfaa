"""The Wild Rydes workshop runner: steps, checkpoints, deploys and live checks for one serverless module."""

__version__ = "0.1.0"
