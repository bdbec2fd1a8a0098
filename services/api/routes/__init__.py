"""HTTP routes by resource: units, rankings and reports, the stream, admin writes, and ops."""
