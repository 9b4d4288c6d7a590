/*
** access.c — the emulator's front door: Host against DNS rebinding, Origin
** against web pages, Content-Type against the "simple" requests a browser
** sends cross-origin without asking first. See access.h for why.
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"

/* Splits a Host header value into its name ("localhost", "[::1]") and port
** (-1 when none was given). Returns 0, or -1 for a value that is not a host. */
static int split_host(const char *value, char *name, size_t size, long *port)
{
    const char *end;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close)
            return -1;
        end = close + 1;
    } else {
        end = value + strcspn(value, ":");
    }
    size_t n = (size_t)(end - value);
    if (n == 0 || n >= size)
        return -1;
    memcpy(name, value, n);
    name[n] = '\0';
    *port = -1;
    if (*end == '\0')
        return 0;
    if (*end != ':' || !end[1])
        return -1;
    char *stop;
    *port = strtol(end + 1, &stop, 10);
    return *stop || *port < 0 || *port > 65535 ? -1 : 0;
}

/* A Host without a port means the scheme's default, 80 for plain HTTP. */
static int port_matches(long given, int served)
{
    return given < 0 ? served == 80 : given == served;
}

/* Whether `bound` (the --host address) names one interface rather than all. */
static int is_specific(const char *bound)
{
    return bound && *bound && strcmp(bound, "0.0.0.0") != 0 && strcmp(bound, "::") != 0 && strcmp(bound, "[::]") != 0;
}

static int host_allowed(const emu_access *a, const char *value)
{
    char name[256];
    long port;
    if (!value || split_host(value, name, sizeof name, &port) < 0)
        return 0;
    static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (int i = 0; loopback[i]; i++)
        if (strcasecmp(name, loopback[i]) == 0)
            return port_matches(port, a->port);
    if (is_specific(a->bound)) {
        /* an IPv6 --host is given bare ("::1"), but a Host header brackets it */
        int v6 = strchr(a->bound, ':') && a->bound[0] != '[';
        size_t n = strlen(a->bound);
        int same = v6 ? name[0] == '[' && strlen(name) == n + 2 && strncasecmp(name + 1, a->bound, n) == 0
                      : strcasecmp(name, a->bound) == 0;
        if (same && port_matches(port, a->port))
            return 1;
    }
    for (int i = 0; i < a->nhosts; i++) {
        char allowed[256];
        long allowed_port;
        if (split_host(a->hosts[i], allowed, sizeof allowed, &allowed_port) < 0)
            continue;
        if (strcasecmp(name, allowed) == 0 && (allowed_port < 0 || allowed_port == (port < 0 ? 80 : port)))
            return 1;
    }
    return 0;
}

int emu_access_origin_allowed(const emu_access *a, const char *origin)
{
    for (int i = 0; i < a->norigins; i++)
        if (strcasecmp(origin, a->origins[i]) == 0)
            return 1;
    return 0;
}

/* "application/json", "application/json; charset=utf-8", any case. */
static int is_json(const char *content_type)
{
    if (!content_type)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = strlen("application/json");
    if (strncasecmp(content_type, "application/json", n) != 0)
        return 0;
    const char *rest = content_type + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

/* A header value fit to quote in a message and a log line: printable ASCII,
** at most size - 1 bytes. */
static const char *printable(const char *value, char *buf, size_t size)
{
    size_t n = 0;
    for (; value[n] && n + 1 < size; n++)
        buf[n] = value[n] >= 0x20 && value[n] < 0x7f ? value[n] : '?';
    buf[n] = '\0';
    return buf;
}

emu_verdict emu_access_check(const emu_access *a, const char *method, const char *host, const char *origin,
                             const char *preflight_method, const char *content_type, int has_body, emu_error *err)
{
    char quoted[201];
    if (!host_allowed(a, host)) {
        emu_error_set(err, "PERMISSION_DENIED",
                      "Host '%s' is not served: the emulator answers requests for localhost, 127.0.0.1 and "
                      "[::1] on port %d only (start it with --allow-host NAME to accept another name).",
                      host ? printable(host, quoted, sizeof quoted) : "(none)", a->port);
        return EMU_REFUSE;
    }
    if (origin) {
        if (!emu_access_origin_allowed(a, origin)) {
            emu_error_set(err, "PERMISSION_DENIED",
                          "Requests from web pages are refused (Origin '%s'); start the emulator with "
                          "--allow-origin ORIGIN to allow a page of yours.",
                          printable(origin, quoted, sizeof quoted));
            return EMU_REFUSE;
        }
        if (strcmp(method, "OPTIONS") == 0 && preflight_method)
            return EMU_PREFLIGHT;
    }
    if (has_body && !is_json(content_type)) {
        emu_error_set(err, "PERMISSION_DENIED",
                      "A request body must be JSON sent with Content-Type: application/json (got %s%s%s).",
                      content_type ? "'" : "", content_type ? content_type : "no Content-Type",
                      content_type ? "'" : "");
        return EMU_REFUSE;
    }
    return EMU_ALLOW;
}
