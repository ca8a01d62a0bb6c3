"""The HTTP/3 transport: an aioquic listener serving the same core handlers over QUIC.

``certificate`` (the listener's TLS certificate and its SPKI pin), ``listener`` (the UDP socket
and its connections), ``protocol`` (one connection), ``exchange`` (one request stream), ``body``
(request bodies), ``flow`` (the receive buffer paced by its reader, shared with the Bolt
client), ``response`` (response bodies with send water marks), ``messages`` (field sections),
``connection`` (the aioquic internals Drift relies on; its receive flow control serves the Bolt
client too).
"""
