"""Tests of the card driver: unit tests and the real PC/SC stack."""
