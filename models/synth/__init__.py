"""Synthetic stand-ins for the model files, built offline with seeded weights."""
