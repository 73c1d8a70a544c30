"""The Kivy user interface. Importing this package does not import Kivy: start with
`kiosk.ui.boot` (environment, Config, font), then import `kiosk.ui.app`."""
