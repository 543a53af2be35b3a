"""The MCP front end (`lean-batchd mcp`): agents' tools over the shared per-user daemon.

Beside the LSP front end (`server`), not inside it: it is one more client of the daemon, as an
editor's `connect` bridge is, so an agent and the user's editors share warm workers. It imports
the official `mcp` SDK, which only the `mcp` command loads (nothing is imported here).
"""
