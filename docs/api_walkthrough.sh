#!/usr/bin/env bash
# La vie complète d'une commande par l'API (/api/v1/), avec curl et jq :
# créer le client, créer la commande, enregistrer la signature, déposer l'avance, … transmettre les mois de
# monitoring, lire le PERF. Chaque appel doit réussir ; le script s'arrête au premier refus et affiche la réponse.
#
# Variables :
#   SEGUR_URL    adresse du back-office (ex. https://segur.example.org)
#   SEGUR_TOKEN  jeton personnel d'un administrateur (créé dans le back-office, « Jetons d'API »)
#   SOLUTION_ID  n° de la solution référencée vendue
#   RPPS         RPPS du médecin à créer (11 chiffres, clé de Luhn)
#   INSTALLATION_TOKEN (facultatif) jeton d'installation du client, pour la transmission du monitoring
# Les dates sont celles d'un exemple (automne 2026) : adaptez-les au calendrier du programme.
set -euo pipefail

: "${SEGUR_URL:?SEGUR_URL manquant}" "${SEGUR_TOKEN:?SEGUR_TOKEN manquant}"
: "${SOLUTION_ID:?SOLUTION_ID manquant}" "${RPPS:?RPPS manquant}"
API="${SEGUR_URL%/}/api/v1"

# call METHODE CHEMIN [CORPS_JSON] [JETON] : affiche la réponse JSON, échoue sur un statut 4xx/5xx.
call() {
  local method="$1" path="$2" body="${3:-}" token="${4:-$SEGUR_TOKEN}"
  local args=(--silent --show-error --fail-with-body -X "$method" -H "Authorization: Bearer $token")
  if [ -n "$body" ]; then
    args+=(-H "Content-Type: application/json" --data "$body")
  fi
  local out
  if ! out=$(curl "${args[@]}" "$API$path"); then
    printf 'Refus : %s %s\n%s\n' "$method" "$path" "$out" >&2
    exit 1
  fi
  printf '%s' "$out"
}

step() { printf '\n== %s\n' "$1" >&2; }

step "1. Créer le client (médecin libéral)"
CLIENT_ID=$(call POST /clients "{\"kind\": \"doctor\", \"name\": \"Dr Camille Durand\", \"rpps\": \"$RPPS\",
  \"specialty\": \"Médecine générale\", \"email\": \"cabinet.durand@example.org\", \"siren\": \"512345678\",
  \"address\": \"3 place du Marché\", \"postal_code\": \"69002\", \"city\": \"Lyon\"}" | jq -r .id)
echo "client n° $CLIENT_ID" >&2

step "2. Créer le bon de commande (brouillon, montants aux plafonds)"
ORDER=$(call POST /orders "{\"client_id\": $CLIENT_ID, \"solution_id\": $SOLUTION_ID,
  \"prestation\": \"principal_v2\", \"issued_at\": \"2026-08-01T09:00:00+02:00\"}")
NUMBER=$(echo "$ORDER" | jq -r .number)
echo "$ORDER" | jq '{number, state, amounts, deadlines: [.deadlines[] | {code, due_at, actor_label}]}' >&2

action() {  # action NOM CORPS_JSON : exécute l'action et affiche le nouvel état
  step "$1"
  call POST "/orders/$NUMBER/actions/$2" "$3" | jq -r '"état : " + .state_label' >&2
}

action "3. Enregistrer la signature du client" sign \
  '{"signed_at": "2026-08-02T10:00:00+02:00", "signature_method": "eidas_simple", "signatory_name": "Dr Camille Durand"}'
action "4. Déposer la demande d'avance" file_advance \
  '{"received_at": "2026-08-03T10:00:00+02:00", "asp_reference": "ASP-2026-0042"}'
action "5. Enregistrer le versement de l'avance" record_advance_paid '{"paid_at": "2026-08-21T10:00:00+02:00"}'

step "6. Cocher la liste de déploiement"
call POST "/orders/$NUMBER/checklist" '{"done": {"rights_of_use": true, "installation": true,
  "corrective_maintenance": true, "training_session": true, "training_material": true,
  "self_service_content": true, "documentation": true, "datamatrix_reader": true,
  "project_follow_up": true}}' | jq -r '"état : " + .state_label' >&2

action "7. Enregistrer l'installation" record_installation '{"installed_at": "2026-09-11T10:00:00+02:00"}'
action "8. Enregistrer la signature de la VA" sign_va '{"signed_at": "2026-09-16T10:00:00+02:00"}'

step "9. Émettre la facture principale"
call POST "/orders/$NUMBER/invoices/principal" | jq -r '"facture " + .number + " : " + .total_ttc + " € TTC"' >&2

action "10. Déposer la demande de solde" file_balance '{"received_at": "2026-11-23T09:00:00+01:00"}'
action "11. Enregistrer le versement du solde" record_balance_paid '{"paid_at": "2026-11-23T09:30:00+01:00"}'

step "12. Transmettre les mois de monitoring (jeton d'installation du client s'il est donné)"
MONTHS='{"months": [{"month": "2026-10-01", "dt": 120, "dm": 80, "t": 300, "tq": 240, "ts": 12}]}'
call POST "/orders/$NUMBER/monitoring/months" "$MONTHS" "${INSTALLATION_TOKEN:-$SEGUR_TOKEN}" >&2
echo >&2
step "13. Retransmettre les mêmes mois : rien ne change"
call POST "/orders/$NUMBER/monitoring/months" "$MONTHS" "${INSTALLATION_TOKEN:-$SEGUR_TOKEN}" >&2
echo >&2

step "14. Lire le PERF"
call GET "/orders/$NUMBER/monitoring" "" "${INSTALLATION_TOKEN:-$SEGUR_TOKEN}" | jq '{order, secondary_start, months, perf}'
