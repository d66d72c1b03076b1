"""BentoML model services: one file per model family, thin wrappers over ``facereid``."""
