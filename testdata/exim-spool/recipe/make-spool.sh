#!/bin/sh
# Queue three messages with a throwaway Exim (never delivering) and leave the
# spool under ./spool. Run as root from a directory holding exim.conf,
# msg1.eml, msg2.eml and msg3.eml; the Exim binary is in ./root/usr/sbin.
set -eu
EXIM=$PWD/root/usr/sbin/exim4
mkdir -p spool log
chown nobody:nogroup spool log
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|SPOOL|$PWD/spool|; s|LOGDIR|$PWD/log|; s|PORT|$PORT|" exim.conf > run.conf
"$EXIM" -C "$PWD/run.conf" -bd -oP "$PWD/exim.pid"
sleep 1
# 1. SMTP AUTH PLAIN, two recipients.
swaks --server 127.0.0.1 --port "$PORT" --helo client.mailrep-test.example \
  --from alice@mailrep-test.example --to carol@remote.example,dave@remote.example \
  --auth PLAIN --auth-user alice@mailrep-test.example --auth-password s3cret \
  --data @msg1.eml
# 2. SMTP AUTH LOGIN, three recipients, a sender the rewrite rule changes.
swaks --server 127.0.0.1 --port "$PORT" --helo '[127.0.0.1]' \
  --from bob@legacy.mailrep-test.example \
  --to erin@remote.example,frank@remote.example,grace@remote.example \
  --auth LOGIN --auth-user bob --auth-password hunter2 --data @msg2.eml
# Unauthenticated relay attempt: rejected, leaves nothing in the spool.
swaks --server 127.0.0.1 --port "$PORT" --helo anon.example \
  --from mallory@anon.example --to victim@remote.example || true
# 3. Local submission by an unprivileged user (-bm, queued with -odq).
runuser -u nobody -- "$EXIM" -C "$PWD/run.conf" -odq \
  -f nobody@mailrep-test.example -bm someone@remote.example < msg3.eml
kill "$(cat exim.pid)"
