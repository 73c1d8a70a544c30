"""Certificates the edge issues: 参保证明 and 个人权益记录 (docs/certificates.md)."""
