"""The embedded lab: a simulated vCenter and a mini OpenStack on 127.0.0.1."""
