"""Adapting a trained model to a shot: encoder-only shot tuning (`shot.py`)."""
