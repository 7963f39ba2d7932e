#!/usr/bin/env bash
# Three organisations on one machine, no Docker: a buyer, a supplier and a bank each run
# their own node (own folder, node key, JWT secret, HTTP and p2p port) and take a purchase
# order (examples/scenarios/purchase.yaml) to its end, each party acting only through its
# own node's REST API. It prints every step and the final state on all three nodes, then
# stops the nodes and removes their folders (also on Ctrl-C or an error).
#
# Run it from the repository root after `cargo build --release` (it needs curl and jq):
#   examples/three-parties.sh
# LETSFLOW names the binary (default: target/release/letsflow, else target/debug/letsflow,
# else letsflow on the PATH); HTTP_PORTS and P2P_PORTS the ports (default "8081 8082 8083"
# and "4101 4102 4103"). `cargo test --test three_parties` runs it on free ports.
set -euo pipefail

if [ -z "${LETSFLOW:-}" ]; then
  for candidate in target/release/letsflow target/debug/letsflow; do
    if [ -x "$candidate" ]; then LETSFLOW=$candidate; break; fi
  done
fi
LETSFLOW=${LETSFLOW:-letsflow}
case $LETSFLOW in /*) ;; */*) LETSFLOW=$PWD/$LETSFLOW ;; esac
read -r -a HTTP <<<"${HTTP_PORTS:-8081 8082 8083}"
read -r -a P2P <<<"${P2P_PORTS:-4101 4102 4103}"
ORGS=(buyer supplier bank)
SCENARIO_FILE=$PWD/examples/scenarios/purchase.yaml

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
url() { echo "http://127.0.0.1:${HTTP[$1]}"; }
fail() {
  echo "error: $*" >&2
  for org in "${ORGS[@]}"; do
    echo "--- $org's log:" >&2
    tail -n 20 "$WORK/$org/node.log" >&2 || true
  done
  exit 1
}

# 1. Each organisation: a node folder (letsflow init: config file and node key) and a JWT
#    secret of its own. The node id is what the others put in their address book.
step "1. Three node folders, keys and secrets in $WORK"
declare -A ID SECRET
for org in "${ORGS[@]}"; do
  "$LETSFLOW" init "$WORK/$org" >/dev/null
  ID[$org]=$("$LETSFLOW" keygen --data "$WORK/$org/data" 2>/dev/null)
  SECRET[$org]=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  echo "$org: node id ${ID[$org]}"
done

# 2. Start the nodes in production mode (a JWT secret), each with an address book naming
#    the other two, so that processes can say "node": "bank".
step "2. Start the nodes"
for i in 0 1 2; do
  org=${ORGS[$i]}
  book="{}"
  for j in 0 1 2; do
    [ "$i" = "$j" ] && continue
    book=$(jq -c --arg name "${ORGS[$j]}" --arg id "${ID[${ORGS[$j]}]}" \
      --arg address "/ip4/127.0.0.1/tcp/${P2P[$j]}" \
      '. + {($name): {id: $id, addresses: [$address]}}' <<<"$book")
  done
  (
    cd "$WORK/$org"
    export LETSFLOW_NAME=$org LETSFLOW_HTTP=127.0.0.1:${HTTP[$i]} \
      LETSFLOW_LISTEN=/ip4/127.0.0.1/tcp/${P2P[$i]} LETSFLOW_PEERS=$book \
      LETSFLOW_AUTH_JWT_SECRET=${SECRET[$org]} LETSFLOW_LOG=warn
    exec "$LETSFLOW" serve >node.log 2>&1
  ) &
  PIDS+=($!)
  echo "$org: $(url "$i"), p2p port ${P2P[$i]}"
done
for i in 0 1 2; do
  for _ in $(seq 100); do
    "$LETSFLOW" health --url "$(url "$i")" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$LETSFLOW" health --url "$(url "$i")" >/dev/null 2>&1 || fail "${ORGS[$i]}'s node does not start"
done

# 3. Tokens: each organisation signs its own users' tokens with its own secret.
step "3. Tokens: admin and alice at the buyer, bob at the supplier, claire at the bank"
token() { # ORG USER [ROLE]
  (cd "$WORK/$1" && LETSFLOW_AUTH_JWT_SECRET=${SECRET[$1]} "$LETSFLOW" token --sub "$2" ${3:+--role "$3"})
}
ADMIN=$(token buyer admin admin)
ALICE=$(token buyer alice)
BOB=$(token supplier bob)
CLAIRE=$(token bank claire)
echo "ok"

api() { # NODE-INDEX TOKEN METHOD PATH [JSON]
  curl -sS --fail-with-body -X "$3" "$(url "$1")$4" -H "Authorization: Bearer $2" \
    ${5:+-H 'Content-Type: application/json' -d "$5"}
}
# Waits until node NODE-INDEX, asked as TOKEN, sees process $PROCESS in STATE.
wait_state() { # NODE-INDEX TOKEN STATE
  local state=""
  for _ in $(seq 300); do
    state=$(api "$1" "$2" GET "/processes/$PROCESS" 2>/dev/null | jq -r .current.key) || true
    [ "$state" = "$3" ] && return 0
    sleep 0.1
  done
  fail "${ORGS[$1]}'s node shows '$state', not '$3'"
}

step "4. The buyer's node sees the other two"
for _ in $(seq 300); do
  connected=$(api 0 "$ADMIN" GET /peers | jq '[.[] | select(.connected)] | length')
  [ "$connected" = 2 ] && break
  sleep 0.1
done
[ "$connected" = 2 ] || fail "the buyer's node is connected to $connected peers, not 2"
api 0 "$ADMIN" GET /peers | jq -c '.[] | {id: .id[0:16], name, connected}'

# 5. The buyer's admin stores the scenario; the other nodes fetch it by id when the
#    process reaches them.
step "5. buyer: store the purchase scenario"
SCENARIO=$(curl -sS --fail-with-body "$(url 0)/scenarios" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/yaml' --data-binary @"$SCENARIO_FILE" | jq -r .id)
echo "scenario $SCENARIO"

step "6. buyer (alice): order 10 x bolts at 2, with bob for the supplier and claire for the bank"
PROCESS=$(api 0 "$ALICE" POST /processes "$(jq -nc --arg scenario "$SCENARIO" '{
  scenario: $scenario,
  actors: {buyer: {id: "alice"}, supplier: {id: "bob", node: "supplier"},
           bank: {id: "claire", node: "bank"}},
  action: {key: "order", response: {item: "bolts", quantity: 10, price: 2}}}')" | jq -r .id)
echo "process $PROCESS"
wait_state 1 "$BOB" ordered

step "7. supplier (bob): accept, then ship"
api 1 "$BOB" POST "/processes/$PROCESS/accept"
api 1 "$BOB" POST "/processes/$PROCESS/ship" '{"tracking": "TRACK-42"}'
echo "ok"
wait_state 2 "$CLAIRE" shipped

step "8. bank (claire): pay"
api 2 "$CLAIRE" POST "/processes/$PROCESS/pay"
echo "ok"
wait_state 0 "$ALICE" paid

step "9. buyer (alice): confirm receipt"
api 0 "$ALICE" POST "/processes/$PROCESS/confirm"
echo "ok"
wait_state 1 "$BOB" "(done)"
wait_state 2 "$CLAIRE" "(done)"

step "10. The process on each node"
users=("$ALICE" "$BOB" "$CLAIRE")
heads=()
for i in 0 1 2; do
  view=$(api "$i" "${users[$i]}" GET "/processes/$PROCESS")
  heads+=("$(jq -r '.events[-1].hash' <<<"$view")")
  printf '%-10s%s\n' "${ORGS[$i]}:" "$(jq -c '{state: .current.key, result, events: (.events | length),
    steps: [.previous[] | "\(.actor.key):\(.actor.id)"]}' <<<"$view")"
done
[ "${heads[0]}" = "${heads[1]}" ] && [ "${heads[1]}" = "${heads[2]}" ] ||
  fail "the nodes end on different events: ${heads[*]}"
echo "all three nodes hold the same chain, ending in ${heads[0]:0:16}…"
