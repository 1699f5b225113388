"""SSL methods of the graphs plugin, one module per paper; each has ``build(config, data)``."""
