"""Training: model families, their search, the background worker, the job system."""
