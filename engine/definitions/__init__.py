"""What users declare: components, pipelines and their frozen traced form; pure values, no I/O."""
