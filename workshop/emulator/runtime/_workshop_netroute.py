"""Inside a function's process: send HTTP(S) calls to `*.execute-api.*.amazonaws.com` to the local emulator.

Standard library only. $_WORKSHOP_GATEWAY is "HTTP_PORT:HTTPS_PORT:CA_FILE". Name lookups of execute-api hosts answer
a placeholder loopback address; connections to it on 443/80 go to the emulator's TLS/plain ports; TLS to an
execute-api name trusts the emulator's CA. The Host header and SNI stay the original name, as on AWS. Every other host
is left alone. Importing this twice is harmless.
"""

import os
import re
import socket
import ssl

PLACEHOLDER = "127.77.0.1"
_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\.?$", re.IGNORECASE)


def _install():
    raw = os.environ.get("_WORKSHOP_GATEWAY")
    if not raw or getattr(socket, "_workshop_routed", False):
        return
    http_port, https_port, ca_file = raw.split(":", 2)
    targets = {443: ("127.0.0.1", int(https_port)), 80: ("127.0.0.1", int(http_port))}

    def is_api(host):
        if isinstance(host, bytes):
            host = host.decode("ascii", "ignore")
        return isinstance(host, str) and bool(_HOST.match(host))

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if is_api(host):
            if family not in (0, socket.AF_INET, socket.AF_UNSPEC):
                raise socket.gaierror(socket.EAI_ADDRFAMILY, "execute-api hosts resolve to IPv4 only here")
            port = int(port) if port is not None and str(port).isdigit() else {"https": 443, "http": 80}.get(port, 0)
            kinds = [type] if type else [socket.SOCK_STREAM]
            return [(socket.AF_INET, kind, proto or socket.IPPROTO_TCP, "", (PLACEHOLDER, port)) for kind in kinds]
        return real_getaddrinfo(host, port, family, type, proto, flags)

    real_gethostbyname = socket.gethostbyname

    def gethostbyname(host):
        return PLACEHOLDER if is_api(host) else real_gethostbyname(host)

    def rewrite(address):
        if isinstance(address, tuple) and len(address) >= 2 and address[0] == PLACEHOLDER:
            return targets.get(address[1], address)
        return address

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        return real_connect(self, rewrite(address))

    def connect_ex(self, address):
        return real_connect_ex(self, rewrite(address))

    real_wrap_socket, real_wrap_bio = ssl.SSLContext.wrap_socket, ssl.SSLContext.wrap_bio

    def trust(context, server_hostname):
        if is_api(server_hostname) and not getattr(context, "_workshop_ca", False):
            context.load_verify_locations(cafile=ca_file)
            try:
                context._workshop_ca = True
            except AttributeError:
                pass

    def wrap_socket(self, sock, *args, **kwargs):
        trust(self, kwargs.get("server_hostname", args[3] if len(args) > 3 else None))
        return real_wrap_socket(self, sock, *args, **kwargs)

    def wrap_bio(self, incoming, outgoing, *args, **kwargs):
        trust(self, kwargs.get("server_hostname", args[1] if len(args) > 1 else None))
        return real_wrap_bio(self, incoming, outgoing, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    ssl.SSLContext.wrap_socket = wrap_socket
    ssl.SSLContext.wrap_bio = wrap_bio
    socket._workshop_routed = True


_install()
