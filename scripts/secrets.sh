# Sourced by serve.sh and compose-env.sh: fresh secrets written to an env file, once each.
random_text() { head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# ensure_secret FILE NAME VALUE: appends NAME=VALUE unless FILE already has NAME.
ensure_secret() {
  grep -q "^$2=" "$1" 2>/dev/null || printf '%s=%s\n' "$2" "$3" >>"$1"
}

# ensure_app_secrets FILE: the service's own secrets, the file readable by its owner only.
ensure_app_secrets() {
  (
    umask 077
    [ -f "$1" ] ||
      printf '# Made by scripts/%s; ignored by git. Delete a line to get a new secret.\n' \
        "$(basename "$0")" >"$1"
    ensure_secret "$1" ADMIN_TOKEN "$(random_text)"
    # Standard Webhooks: whsec_ and the base64 of 24 to 64 random bytes.
    ensure_secret "$1" WEBHOOK_SECRET "whsec_$(head -c 32 /dev/urandom | base64 -w0)"
    ensure_secret "$1" BUYER_JWT_SECRET "$(random_text)"
  )
}
