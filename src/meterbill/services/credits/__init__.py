"""Billing credits (contract extension "credits"): grants (grants.py) and their application
at finalization, on voiding and on the upcoming invoice (apply.py)."""
