"""Amaranth RTL of the hwgen blocks."""
