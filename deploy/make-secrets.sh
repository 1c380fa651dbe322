#!/usr/bin/env sh
# Create the secrets the compose file mounts (random passwords, a new checkpoint signing key, the writer
# key that signs every event appended, the master key of the people register, the Temporal payload
# keys and the mail server's URL) under deploy/secrets/, and .env with the settings compose reads from
# the environment: Temporal's database password and the web app's public address.
# Run once; it never overwrites an existing secret or setting. Needs python3 with coproduce installed
# for the keys. COPRODUCE_SMTP_URL and COPRODUCE_WEB_URL, when set, give the mail server and the address.
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
# the mail server that sends sign-in links: smtp://, smtp+starttls:// or smtps://, with its login
[ -s secrets/smtp_url ] || printf '%s\n' "${COPRODUCE_SMTP_URL:-smtp+starttls://coproduce:CHANGE-ME@mail.example.org:587}" > secrets/smtp_url
touch .env
grep -q '^TEMPORAL_DB_PASSWORD=' .env || printf 'TEMPORAL_DB_PASSWORD=%s\n' "$(cat secrets/temporal_db_password)" >> .env
grep -q '^COPRODUCE_WEB_URL=' .env || printf 'COPRODUCE_WEB_URL=%s\n' "${COPRODUCE_WEB_URL:-http://localhost:8000}" >> .env
echo "secrets in $(pwd)/secrets; keep a copy of checkpoint_key, writer_key, master_key and payload_keys somewhere safe"
grep -q 'CHANGE-ME' secrets/smtp_url && echo "put your mail server's URL in $(pwd)/secrets/smtp_url (sign-in links are mailed through it)"
grep -q '^COPRODUCE_WEB_URL=http://localhost' .env && echo "the web app's public address is http://localhost:8000; put the real https one in $(pwd)/.env"
exit 0
