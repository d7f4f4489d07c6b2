"""deployer: declarative deployment of ML models to Snowflake as Python UDFs."""

__version__ = "0.1.0"
