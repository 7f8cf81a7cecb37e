"""The one seam where invoices, subscriptions and customers change state.

Each module here checks a transition, writes it, and records its domain event (outbox.py) in
the caller's transaction: a change that rolls back leaves no event, a change written once
leaves one. Services call these functions instead of updating status columns themselves;
batch paths (the billing clock, collection) call the batch forms, one INSERT of event rows
per batch."""
