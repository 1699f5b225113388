"""The sslkit command line (``sslkit``)."""
