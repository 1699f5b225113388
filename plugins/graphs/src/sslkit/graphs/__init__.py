"""sslkit-graphs: self-supervised learning on graphs and hypergraphs (PyTorch Geometric).

Importing this package stays light; the heavy parts live in submodules (``data``, ``encoders``,
``augment``, ``methods``, ``tasks``).
"""
