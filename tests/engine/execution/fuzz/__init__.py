"""The step-reuse fuzzer: random pipelines in user modules, random edits, an oracle to compare."""
