"""The GraphQL edge: strawberry types, resolvers, permissions and the per-request context."""
