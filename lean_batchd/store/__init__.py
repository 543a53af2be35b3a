"""What is remembered across runs, per project: the Lake model, plans and `check`'s outcomes.

One SQLite store per project, outside the sources (`location`), shared safely
by the daemon and every command line (`database`); the persistent model
(`models`) and plans kept with it (`plans`); the result cache (`results`,
keyed by `result_key`); the identity of a worker's programs (`identity`); and
what `cache info` shows (`inventory`). Nothing is imported here, so that a
command pays only for what it uses.
"""
