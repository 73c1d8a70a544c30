"""Leaf helpers every part may import: privacy masking, citizen-ID checks, settings, logging.

This package imports nothing else of ours and holds no behaviour of any one part; see
docs/architecture.md ("common/").
"""
