#!/usr/bin/env bash
# Regenerates the fuzz seeds from the crate's test fixtures (real umoci/skopeo output and
# docker save samples) plus a few references and auth headers. Usage: formats/oci/fuzz/make-seeds.sh
set -euo pipefail
cd "$(dirname "$0")"
rm -rf seeds && mkdir seeds
cp ../tests/data/*.json ../tests/data/umoci-oci-layout seeds/
printf '%s' 'localhost:5000/a/b:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' > seeds/ref
printf '%s' 'docker://alpine:3.19' > seeds/ref-short
printf '%s' 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull", Basic realm="a, \"b\""' > seeds/www-authenticate
printf '%s' '{"token":"abc","access_token":"def","expires_in":300}' > seeds/token
printf '%s' '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}' > seeds/errors
printf '%s' 'linux/arm64/v8' > seeds/platform
