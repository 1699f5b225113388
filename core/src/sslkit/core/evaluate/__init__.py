"""Evaluation on frozen embeddings: probes, monitors, domain tasks, reports."""
