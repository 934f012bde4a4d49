"""Digests of code, values, files, folders, URLs and tables: the ingredients of cache keys."""
