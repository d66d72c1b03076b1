"""Face re-identification library: image intake, detection, alignment, embeddings,
emotions and matching. No BentoML import here; the services in ``runners/`` and
``service.py`` compose these pieces."""
