"""Sync between boxes: the exchange over HTTP and bundles on a USB stick."""
