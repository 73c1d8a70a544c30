"""Tests of the virtual social security card: applet, vpcd link, service, CLI."""
