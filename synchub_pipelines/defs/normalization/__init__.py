"""Category and attribute normalization: internal tree, marketplace trees, mappings, readiness."""
