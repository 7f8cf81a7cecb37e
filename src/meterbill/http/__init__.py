"""Plain HTTP around and beside GraphQL: body limits, rate limits, logs, metrics, bulk ingestion."""
