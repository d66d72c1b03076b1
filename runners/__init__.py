"""BentoML model services: one file per model family, thin wrappers over ``facereid``."""

# How callers connect to a model service. BentoML's dependency client replaces its HTTP
# session every 100 calls by default and closes the old one under calls in flight ("Connector
# is closed" 500s at concurrency 32, see docs/benchmarks.md); once an hour is enough to pick
# up a moved service.
RUNNER_CONNECTION = {"max_requests": 1_000_000_000, "max_age": 3600.0}
