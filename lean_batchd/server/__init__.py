"""The LSP front end (pygls 2 and lsprotocol) and the daemon's clients.

Nothing is imported here: commands that serve no LSP (`discover`, `check`, `status`) import
`client` and `address` without loading pygls."""
