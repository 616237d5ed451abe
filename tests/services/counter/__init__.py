"""The counter tests (a package, so that their helpers are imported by package path)."""
