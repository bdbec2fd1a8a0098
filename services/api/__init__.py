"""The read API: figures per unit and per subtree, rankings, target reports, a live stream, metrics."""
