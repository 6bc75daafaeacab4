#!/bin/sh
# Entrypoint of the `mosquitto` service (eclipse-mosquitto:2, Alpine, busybox sh).
#
# At every start it writes, into $MOSQUITTO_SECRETS_DIR (a tmpfs in docker-compose.yml):
#   passwd  the password file, made with the image's own `mosquitto_passwd -b` (so the hash
#           is one this broker version reads) for each user in $MOSQUITTO_USERS, the
#           password of user `some-name` taken from $MQTT_PASSWORD_SOME_NAME;
#   acl     a copy of deploy/mosquitto/acl;
# both owned by the `mosquitto` user with mode 0600: the broker reads them after dropping
# root privileges, and warns about (future versions: refuses) files others can read.
# Then it hands over to the image's own entrypoint with the command.
#
# So no password file is shipped: the passwords live in the environment (.env, see
# deploy/env.example), and changing one is `docker compose up -d` (the container is
# recreated). Demo defaults are set in docker-compose.yml and start with "demo-"; this
# script warns about each one still in use.
#
# To use a password file made by hand instead: create it with the broker's own tool, e.g.
#   docker run --rm -it -v "$PWD/deploy/mosquitto:/work" eclipse-mosquitto:2 \
#       mosquitto_passwd -c /work/passwd lantian        # prompts; no -c for the next users
# then, in docker-compose.yml, drop this entrypoint (and its `entrypoint:`/`command:`),
# and point password_file and acl_file in mosquitto.conf at the mounted files, which must
# be readable by uid 1883 (chown 1883:1883 deploy/mosquitto/passwd; chmod 0600 ...).
set -eu

secrets=${MOSQUITTO_SECRETS_DIR:-/mosquitto/secrets}
acl_source=${MOSQUITTO_ACL_SOURCE:-/etc/lantian-mosquitto/acl}
users=${MOSQUITTO_USERS:-lantian device officer-console}

fail() {
    echo "mosquitto entrypoint: $*" >&2
    exit 1
}

umask 077
mkdir -p "$secrets"
new="$secrets/passwd.new"
rm -f "$new"
: > "$new"
for user in $users; do
    case $user in
        *[!A-Za-z0-9_-]*) fail "MQTT user name '$user' may only use letters, digits, '-' and '_'" ;;
    esac
    var="MQTT_PASSWORD_$(printf '%s' "$user" | tr 'a-z-' 'A-Z_')"
    eval "password=\${$var:-}"
    [ -n "$password" ] || fail "no password for MQTT user '$user': set $var"
    case $password in
        demo-*) echo "mosquitto entrypoint: WARNING: user '$user' has the DEMO password from docker-compose.yml; set $var in .env" >&2 ;;
    esac
    mosquitto_passwd -b "$new" "$user" "$password" >/dev/null
    # the broker needs none of these once the file is written
    unset "$var"
done
password=
mv -f "$new" "$secrets/passwd"
[ -r "$acl_source" ] || fail "no ACL file at $acl_source"
cp "$acl_source" "$secrets/acl"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown mosquitto:mosquitto "$secrets" "$secrets/passwd" "$secrets/acl"
fi
chmod 0700 "$secrets"
chmod 0600 "$secrets/passwd" "$secrets/acl"

if [ -x /docker-entrypoint.sh ]; then
    exec /docker-entrypoint.sh "$@"
fi
exec "$@"
