#!/bin/sh
# Entrypoint of broker-sshd: host keys are made here, at start, so no two
# containers share one and none is baked into the image; the authorized key
# comes from the environment (set by broker's docker provider), so the image
# carries no credential either.
set -e
ssh-keygen -A >/dev/null
mkdir -p /run/sshd /root/.ssh
chmod 700 /root/.ssh
if [ -n "${BROKER_AUTHORIZED_KEYS:-}" ]; then
	printf '%s\n' "$BROKER_AUTHORIZED_KEYS" >/root/.ssh/authorized_keys
	chmod 600 /root/.ssh/authorized_keys
fi
unset BROKER_AUTHORIZED_KEYS
if [ "$#" -eq 0 ]; then
	set -- /usr/sbin/sshd -D -e
fi
exec "$@"
