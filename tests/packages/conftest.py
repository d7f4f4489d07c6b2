"""The codegen fixtures (tiny trained models) serve the package tests too."""

from tests.codegen.conftest import keras_bundle, sklearn_bundle  # noqa: F401
