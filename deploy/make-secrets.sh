#!/usr/bin/env sh
# Create the secrets the compose file mounts (random passwords, a new checkpoint signing key, the writer
# key that signs every event appended, the master key of the people register and the Temporal payload
# keys) under
# deploy/secrets/, and .env with the one value Temporal's auto-setup image reads from the environment.
# Run once; it never overwrites an existing secret. Needs python3 with coproduce installed for the key.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
new() { [ -s "secrets/$1" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "secrets/$1"; }
new temporal_db_password
new app_db_admin_password
new writer_password
new auditor_password
[ -s secrets/admin_database_url ] || printf 'postgresql://coproduce_admin:%s@app-db:5432/coproduce\n' "$(cat secrets/app_db_admin_password)" > secrets/admin_database_url
[ -s secrets/writer_database_url ] || printf 'postgresql://coproduce_writer:%s@app-db:5432/coproduce\n' "$(cat secrets/writer_password)" > secrets/writer_database_url
[ -s secrets/checkpoint_key ] || python3 -c 'from eventlog import Signer; print(Signer.generate("coproduce/eventlog").key_string())' > secrets/checkpoint_key
[ -s secrets/writer_key ] || python3 -c 'from eventlog import Signer; print(Signer.generate("coproduce/eventlog/writer").key_string())' > secrets/writer_key
key() { python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
[ -s secrets/master_key ] || key > secrets/master_key
[ -s secrets/payload_keys ] || printf 'k1=%s\n' "$(key)" > secrets/payload_keys
[ -s .env ] || printf 'TEMPORAL_DB_PASSWORD=%s\n' "$(cat secrets/temporal_db_password)" > .env
echo "secrets in $(pwd)/secrets; keep a copy of checkpoint_key, writer_key, master_key and payload_keys somewhere safe"
