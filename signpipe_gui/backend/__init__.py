"""Everything that is not GUI. Nothing in this package imports Qt."""
