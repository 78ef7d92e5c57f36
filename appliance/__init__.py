"""Kith's core: the box, its signed record log and the services that own the rules."""
