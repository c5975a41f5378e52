"""Measures of a face: masked reconstruction, landmark (expression) error, temporal flicker.

Plain torch and numpy: training, evaluation and benchmarks all use them, and
they import nothing of fusion's above `fusion.checks`.
"""
