"""Settings modules: `base` (shared, read from the environment) and `prod`."""
