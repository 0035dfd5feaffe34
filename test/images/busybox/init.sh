#!/bin/sh
# Keeps the container up for exec, and stops at once on SIGTERM (a plain
# sleep as PID 1 would ignore it).
trap 'exit 0' TERM INT
while :; do
	sleep 3600 &
	wait $!
done
