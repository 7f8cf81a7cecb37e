"""Plain HTTP endpoints beside GraphQL (bulk ingestion)."""
