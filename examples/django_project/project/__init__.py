"""The example project's package."""
