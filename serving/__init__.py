"""What the layers share that is not HTTP parsing: options, lifecycle, the per-connection session.

It imports no layer; layers import it.
"""
