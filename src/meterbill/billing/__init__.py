"""Pure billing domain: stdlib and Decimal only."""
