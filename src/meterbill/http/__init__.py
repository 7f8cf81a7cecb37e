"""HTTP-level concerns in front of the GraphQL endpoint: body limits, rate limits, logs, metrics."""
