"""The autograder for "neural networks from scratch with NumPy"."""
