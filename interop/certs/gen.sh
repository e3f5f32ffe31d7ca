#!/usr/bin/env bash
# Regenerates the interop test PKI (a CA and a server certificate valid for
# localhost, 127.0.0.1 and *.test.google.fr, as grpc's server1.pem is). Test
# use only: the private keys are public.
set -euo pipefail
cd "$(dirname "$0")"
openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=weir interop test CA" \
    -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=*.test.google.fr" -keyout server1.key -out server1.csr 2>/dev/null
openssl x509 -req -in server1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 36500 -out server1.pem \
    -extfile <(printf "subjectAltName=DNS:*.test.google.fr,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE") 2>/dev/null
rm -f server1.csr ca.srl
