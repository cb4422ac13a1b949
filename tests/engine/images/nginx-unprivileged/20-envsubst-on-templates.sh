#!/bin/sh
# Part of standin/nginx-unprivileged:1.30-alpine-slim (stand-in for
# nginxinc/nginx-unprivileged:1.30.4-alpine-slim); our own version of the
# official script of the same name. Renders every
# $NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX
# (default /etc/nginx/templates, .template) into $NGINX_ENVSUBST_OUTPUT_DIR
# (default /etc/nginx/conf.d), keeping the sub-folders, with envsubst limited
# to the variables defined in the environment: nginx's own variables ($host,
# $uri...) are left as they are. NGINX_ENVSUBST_FILTER (a regular expression)
# narrows the list further. A read-only output folder is logged and skipped.
# Not reproduced: *.stream-template.
set -e

ME=$(basename "$0")

entrypoint_log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$@"
}

# envsubst's SHELL-FORMAT: "${A} ${B} ..." for every variable set here.
defined_variables() {
    awk -v filter="${NGINX_ENVSUBST_FILTER:-}" 'END {
        for (name in ENVIRON)
            if (name ~ /^[A-Za-z_][A-Za-z0-9_]*$/ && name ~ filter)
                printf "${%s} ", name
    }' </dev/null
}

render_templates() {
    template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
    suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
    output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}

    [ -d "$template_dir" ] || return 0
    if [ ! -w "$output_dir" ]; then
        entrypoint_log "$ME: ERROR: cannot write to $output_dir, templates in $template_dir not rendered"
        return 0
    fi
    variables=$(defined_variables)
    find "$template_dir" -follow -type f -name "*$suffix" -print |
    while IFS= read -r template; do
        relative=${template#"$template_dir/"}
        output=$output_dir/${relative%"$suffix"}
        mkdir -p "$(dirname "$output")"
        entrypoint_log "$ME: Running envsubst on $template to $output"
        envsubst "$variables" <"$template" >"$output"
    done
}

render_templates
