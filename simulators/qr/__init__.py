"""The QR simulators: a serial scanner on a pty, a camera frame generator, and the phone side
(an e-card code from the central simulator shown as a QR code). docs/simulators/qr.md."""
