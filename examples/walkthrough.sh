#!/usr/bin/env bash
# The README's walkthrough, as a script: get tokens, store a scenario, start a process,
# step it as two different users, read the process and its history. Run it from the
# repository root against a development node (`letsflow serve`); it needs curl and jq.
# `cargo test --test docs` runs it against a node of its own.
set -euo pipefail

URL=${LETSFLOW_URL:-http://127.0.0.1:8080}

# 1. Tokens: a development node has demo accounts with ready tokens.
ACCOUNTS=$(curl -sS --fail-with-body "$URL/demo-accounts")
token() { echo "$ACCOUNTS" | jq -r --arg id "$1" '.[] | select(.id == $id) | .token'; }
ADMIN=$(token admin)   # role admin: may store scenarios
CLAIRE=$(token claire) # the employee in this walkthrough
BOB=$(token bob)       # role management: the manager
ALICE=$(token alice)   # role support: finance

# 2. Store a scenario; the answer is the normalized scenario with its id.
SCENARIO=$(curl -sS --fail-with-body "$URL/scenarios" \
  -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/yaml' \
  --data-binary @examples/scenarios/approval.yaml | jq -r .id)

# 3. Start a process: Claire is assigned as the employee and submits her claim at once.
START=$(jq -n --arg scenario "$SCENARIO" '{
  scenario: $scenario,
  actors: {employee: {id: "claire"}},
  action: {key: "submit", response: {amount: 120, reason: "train tickets"}}
}')
PROCESS=$(curl -sS --fail-with-body "$URL/processes" \
  -H "Authorization: Bearer $CLAIRE" -H 'Content-Type: application/json' \
  -d "$START" | jq -r .id)

# 4. Step it as two other users: Bob approves as the manager, Alice pays as finance.
#    A step answers 204 No Content; a refused one says why in error.reason.
curl -sS --fail-with-body -X POST "$URL/processes/$PROCESS/approve" -H "Authorization: Bearer $BOB"
curl -sS --fail-with-body -X POST "$URL/processes/$PROCESS/pay" -H "Authorization: Bearer $ALICE"

# 5. Read the process: where it is, its result, and its history (the previous log).
curl -sS --fail-with-body "$URL/processes/$PROCESS" -H "Authorization: Bearer $CLAIRE" |
  jq '{state: .current.key, isRunning, result, events: (.events | length),
       history: [.previous[] | {title, actor: .actor.key, user: .actor.id}]}'
