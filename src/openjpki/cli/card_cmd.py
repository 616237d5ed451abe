"""Commands registered by this module: see shared/spec/CLI.md."""
