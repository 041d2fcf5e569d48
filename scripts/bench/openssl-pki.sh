#!/usr/bin/env bash
# The same certificate set kubewiz makes, made with the openssl command line the way
# install scripts do it: three CAs, the service-account key pair and LEAVES leaf
# certificates with RSA-2048 keys, one after the other. Used by `cargo bench --bench
# render` as the point of comparison.
set -euo pipefail
leaves=${1:?usage: openssl-pki.sh LEAVES DIR}
dir=${2:?usage: openssl-pki.sh LEAVES DIR}
mkdir -p "$dir"
cd "$dir"
for ca in ca front-proxy-ca etcd-ca; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" -out "$ca.crt" -days 3650 \
    -subj "/CN=$ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" 2>/dev/null
done
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
cat > ext.cnf <<'CNF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:node,DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1,IP:192.168.122.10
CNF
for i in $(seq 1 "$leaves"); do
  openssl req -newkey rsa:2048 -nodes -keyout "leaf$i.key" -out "leaf$i.csr" -subj "/CN=leaf$i" 2>/dev/null
  openssl x509 -req -in "leaf$i.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
    -extfile ext.cnf -out "leaf$i.crt" 2>/dev/null
done
