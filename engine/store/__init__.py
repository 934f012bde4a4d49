"""The workspace: its SQLite database (runs, cache index, stat cache) and the artifact store."""
