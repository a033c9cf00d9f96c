"""hwgen: hardware generator and cycle-accurate simulator for ternary neural-network accelerators."""

__version__ = "0.1.0"
