"""Face engines: InsightFace on ONNX Runtime, and dlib (real weights from PyPI) offline."""
