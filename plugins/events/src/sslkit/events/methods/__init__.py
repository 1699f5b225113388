"""SSL methods for event sequences: ``coles`` (default), ``mem`` and ``cpc``."""
