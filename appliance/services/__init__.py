"""Domain services: every rule about who may do what, and every record built, lives here."""
