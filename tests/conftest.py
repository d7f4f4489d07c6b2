import os

# Keep TensorFlow quiet wherever a test happens to import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Handlers run in this Python unless a test asks for an isolated environment: building one per
# pin set would cost every engine test a download (tests/test_isolated_env.py covers them).
os.environ.setdefault("DEPLOYER_ISOLATED_ENV", "0")
