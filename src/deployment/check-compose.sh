#!/usr/bin/env bash
# Validates docker-compose.yml offline with docker-compose's own parser (no Docker engine needed): the Python
# docker-compose 1.29 from PyPI, in a private venv. Its PyYAML 5.4 needs Cython < 3 to build.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.tools/compose-venv
if [ ! -x "$venv/bin/docker-compose" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "cython<3" wheel
  "$venv/bin/pip" install -q --no-build-isolation "pyyaml==5.4.1"
  "$venv/bin/pip" install -q "docker-compose==1.29.2"
fi
made=()
for f in zim_server_secret.txt zim_db_password.txt; do
  [ -f "$f" ] || { echo placeholder > "$f"; made+=("$f"); }
done
trap 'rm -f "${made[@]}"' EXIT
ZIM_APP_ID=1 "$venv/bin/docker-compose" -f docker-compose.yml --profile cli --profile rehearsal config -q
echo "docker-compose.yml: valid ($("$venv/bin/docker-compose" version --short))"
