#!/usr/bin/env bash
# First run of the three-organisation demo (docker/README.md). Builds the image, gives each
# organisation a JWT secret (ORG.env, mode 600, not committed) and a node key in its own
# data volume, and writes the node ids to .env, where docker compose finds them for the
# address books of compose.yaml. Running it again keeps the secrets and keys there are.
set -euo pipefail
cd "$(dirname "$0")"

ORGS=(buyer supplier bank)

# compose.yaml cannot be read while the ids are unknown; any value will do for keygen.
export BUYER_ID=${BUYER_ID:-pending} SUPPLIER_ID=${SUPPLIER_ID:-pending} BANK_ID=${BANK_ID:-pending}

for org in "${ORGS[@]}"; do
  if [ ! -f "$org.env" ]; then
    # 32 random bytes as hex: a production node refuses an HS256 secret under 32 bytes.
    (umask 077 && printf 'LETSFLOW_AUTH_JWT_SECRET=%s\n' "$(openssl rand -hex 32)" >"$org.env")
    echo "created $org.env (the JWT secret of the $org's node)"
  fi
done

docker compose build

ids=""
for org in "${ORGS[@]}"; do
  # `letsflow keygen` creates /data/node.key in the organisation's volume (or shows the
  # one there is) and prints the node id.
  id=$(docker compose run --rm --no-deps -T "$org" keygen)
  echo "$org: node id $id"
  ids+="${org^^}_ID=$id"$'\n'
done
printf '%s' "$ids" >.env
echo "wrote .env; next: docker compose up -d"
