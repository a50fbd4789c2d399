"""Datasets: where they live (store), how they are read (mitdb, cwru) and turned into model-ready arrays."""
