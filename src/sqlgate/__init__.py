"""sqlgate: one secure, self-hosted HTTPS endpoint to your data."""

__version__ = "0.1.0"
