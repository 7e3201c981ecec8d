"""TEST-ONLY: serve a directory over HTTPS, for the stand-in installer and its release assets.

The install role accepts only https:// installer URLs, so the molecule scenarios serve the stand-in
over TLS on the container's loopback with a certificate from a per-run test CA (made in the
scenario's prepare step). Requests are logged to stderr in http.server's usual format.

    python3 serve_https.py --port PORT --directory DIR --cert CERT.pem --key KEY.pem [--bind 127.0.0.1]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import ssl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.directory)
    server = http.server.ThreadingHTTPServer((args.bind, args.port), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
