"""Embedding export for production systems: Parquet, NumPy, FAISS, ONNX, safetensors."""
