import os

# Keep TensorFlow quiet wherever a test happens to import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
