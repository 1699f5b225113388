"""Sample data shipped with the plugin (planetoid-cora, cocitation-cora); see the NOTICE file."""
