"""Live usage (contract extension live): who listens for which usage (hub.py) and what they
are told (usage.py)."""
