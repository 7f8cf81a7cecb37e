"""GraphQL adapter: thin resolvers that parse, call one service and map the result."""
