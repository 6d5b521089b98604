"""A minimal OpenID Connect issuer: discovery, JWKS and RS256 ID tokens.

It stands in for Keycloak, which no registry here ships. SeaweedFS's STS
fetches the JWKS from it and verifies every web identity token's signature,
issuer and audience, so a token it did not sign is refused for real.
"""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class OidcIssuer:
    def __init__(self, client_id="quarry"):
        self.client_id = client_id
        self.kid = uuid.uuid4().hex[:12]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def jwks(self):
        public = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def mint(self, subject, lifetime=3600, audience=None, **claims):
        now = int(time.time())
        payload = {
            "iss": self.url,
            "sub": subject,
            "aud": audience or self.client_id,
            "iat": now,
            "exp": now + lifetime,
            "preferred_username": subject,
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.kid})

    def _handler(issuer):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                    }
                elif self.path == "/jwks":
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
