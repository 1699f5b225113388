"""sslkit-events: self-supervised learning on event sequences (CoLES, masked event modeling, CPC).

Importing this package stays light (no torch); the heavy modules are ``sslkit.events.data``,
``sslkit.events.encoders``, ``sslkit.events.methods`` and ``sslkit.events.tasks``.
"""
