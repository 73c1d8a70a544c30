"""HTTP routes of `/api/v1`: thin, each one a call into `edge_server.services`."""
