#!/bin/sh
# TEST-ONLY: a throw-away CA and a server certificate for 127.0.0.1, made per test run, so the
# stand-in installer can be served over https (the install role refuses plain http).
#   make-test-ca.sh DIR
# Leaves DIR/ca.pem (trust this: SSL_CERT_FILE / CURL_CA_BUNDLE), DIR/server.pem and
# DIR/server.key (0600). The CA key is deleted once the server certificate is signed.
set -eu
dir="$1"
mkdir -p "$dir"
umask 077
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout ca.key -out ca.pem \
  -subj "/CN=bytes4096.codex stand-in test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem 2>/dev/null
rm -f ca.key ca.srl server.csr server.ext
chmod 0644 ca.pem server.pem
