"""The single source of unisend's version."""

__version__ = "0.1.0"
