"""What the HTTP adapters share (graphql/ and http/ both sit on it, neither on the other):
the request log and metrics endpoint, the static files, the bearer header and the error body."""
