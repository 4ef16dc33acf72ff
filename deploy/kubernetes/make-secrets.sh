#!/usr/bin/env bash
# Writes the files that kustomization.yaml's secretGenerator turns into the shardopt-tls and
# shardopt-tokens Secrets: a CA, a certificate for the coordinator, the workers and the trainers
# (each good as server and client, for mutual TLS), their PKCS#8 keys, and one random token per role
# with the servers' --auth-tokens file ("role token" per line).
#
# Usage: deploy/kubernetes/make-secrets.sh NAMESPACE [DAYS]   (needs openssl; writes into secrets/ beside
# this script, or into $SHARDOPT_SECRETS_DIR)
# The certificates name the in-cluster DNS names of that namespace. Run it again to rotate everything.
set -euo pipefail
ns="${1:?usage: make-secrets.sh NAMESPACE [DAYS]}"
days="${2:-365}"
if [[ ! "$ns" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]]; then
  echo "make-secrets.sh: NAMESPACE must be a DNS label (lower-case letters, digits, '-'), got '$ns'" >&2
  exit 2
fi
out="${SHARDOPT_SECRETS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets}"
mkdir -p "$out"
chmod 700 "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/ca.key" 2>/dev/null
openssl req -x509 -new -key "$work/ca.key" -days "$days" -subj "/CN=shardopt CA ($ns)" -out "$out/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# name SANs...
issue() {
  local name="$1"
  shift
  local sans
  sans="$(printf 'DNS:%s,' "$@")"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/$name.key" 2>/dev/null
  openssl req -new -key "$out/$name.key" -subj "/CN=shardopt $name" -out "$work/$name.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
    "${sans%,}" >"$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.crt" -CAkey "$work/ca.key" -CAserial "$work/ca.srl" -CAcreateserial -days "$days" \
    -extfile "$work/$name.ext" -out "$out/$name.crt" 2>/dev/null
}
svc="$ns.svc"
issue coordinator shardopt-coordinator "shardopt-coordinator.$ns" "shardopt-coordinator.$svc" "shardopt-coordinator.$svc.cluster.local"
issue worker "*.shardopt-worker.$svc.cluster.local" "*.shardopt-worker.$svc" "*.shardopt-worker.$ns"
issue trainer "shardopt-trainer.$svc.cluster.local"

: >"$out/auth-tokens"
for role in admin worker trainer; do
  token="$(openssl rand -hex 32)"
  printf '%s\n' "$token" >"$out/$role.token"
  printf '%s %s\n' "$role" "$token" >>"$out/auth-tokens"
done
echo "wrote $out: ca.crt, {coordinator,worker,trainer}.{crt,key}, {admin,worker,trainer}.token, auth-tokens" >&2
