"""Package data: the bundled dataset and registries."""
