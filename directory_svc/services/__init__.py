"""Use cases: one function per action, shared by every edge (GraphQL, CLI, scheduler)."""
