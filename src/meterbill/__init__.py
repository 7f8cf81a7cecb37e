"""meterbill: usage-based billing engine."""
