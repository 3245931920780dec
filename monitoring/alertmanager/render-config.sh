#!/bin/sh
# Writes a copy of alertmanager.yml with the webhook URL in place of its placeholder, then runs
# the command given as arguments (Alertmanager itself, in docker-compose.yml).
#
# Alertmanager 0.25 (Debian bookworm) cannot read a webhook URL from a file, and the URL is a
# secret, so it is substituted at start-up instead of being committed. Sources, first match wins:
#   ALERT_WEBHOOK_URL_FILE  path of a file holding the URL (preferred: not in the env)
#   ALERT_WEBHOOK_URL       the URL itself
# With neither, the placeholder stays: notifications fail visibly (AlertmanagerNotificationsFailing).
#
#   ALERTMANAGER_CONFIG_TEMPLATE  input  (default /etc/alertmanager/alertmanager.yml)
#   ALERTMANAGER_CONFIG           output (default /run/alertmanager/alertmanager.yml)
#
# POSIX sh and awk only: it runs in the busybox-based Alertmanager image and on the host.
set -eu

template=${ALERTMANAGER_CONFIG_TEMPLATE:-/etc/alertmanager/alertmanager.yml}
config=${ALERTMANAGER_CONFIG:-/run/alertmanager/alertmanager.yml}
placeholder='http://alertmanager-webhook.invalid/set-ALERT_WEBHOOK_URL'

if [ -n "${ALERT_WEBHOOK_URL_FILE:-}" ]; then
  url=$(cat "$ALERT_WEBHOOK_URL_FILE")
else
  url=${ALERT_WEBHOOK_URL:-}
fi

# The URL lands inside a single-quoted YAML scalar: refuse what could break out of it.
case "$url" in
  '')
    echo "render-config: no webhook URL set (ALERT_WEBHOOK_URL or ALERT_WEBHOOK_URL_FILE); notifications will fail" >&2
    url=$placeholder
    ;;
  *"'"* | *[[:space:]]* | *\\*)
    echo "render-config: the webhook URL must not contain quotes, backslashes or white space" >&2
    exit 1
    ;;
  http://* | https://*) ;;
  *)
    echo "render-config: the webhook URL must start with http:// or https://" >&2
    exit 1
    ;;
esac

umask 077
mkdir -p "$(dirname "$config")"
# Plain string search and splice: no regular expression or replacement escaping to get wrong.
WEBHOOK_URL=$url PLACEHOLDER=$placeholder awk '
  BEGIN { url = ENVIRON["WEBHOOK_URL"]; ph = ENVIRON["PLACEHOLDER"]; found = 0 }
  {
    rest = $0; out = ""
    while ((i = index(rest, ph)) > 0) {
      out = out substr(rest, 1, i - 1) url
      rest = substr(rest, i + length(ph))
      found = 1
    }
    print out rest
  }
  END { if (!found) { print "render-config: placeholder not found in " FILENAME > "/dev/stderr"; exit 1 } }
' "$template" > "$config.tmp"
mv "$config.tmp" "$config"

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
