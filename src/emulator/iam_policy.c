/*
** iam_policy.c — a job's IAM policy and its three methods (iam_policy.h says
** what each answers). The rules are Cloud IAM's as documented for allow
** policies: members and roles by their syntax, conditions only in version 3
** policies (a lower version shows them hidden behind "_withcond_" roles, and
** a change must not be made from such a view), the etag compared on every set
** that carries one, at most 1500 principals.
*/
#include <ctype.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iam_policy.h"
#include "wire_values.h"

#define ETAG_MAX 16

struct emu_iam_policy {
    cJSON *bindings; /* normalized: role, members (none twice), condition; no binding without members */
    unsigned char etag[ETAG_MAX];
    size_t etag_len;
};

/* The etag of a policy never set: what Cloud IAM answers for an empty one ("ACAB"). */
static const unsigned char never_set[] = {0x00, 0x20, 0x01};

void emu_iam_policy_free(emu_iam_policy *p)
{
    if (p) {
        cJSON_Delete(p->bindings);
        free(p);
    }
}

/* An etag never given before by this process (a counter), nor soon after by an earlier one (its start is the time). */
static void new_etag(emu_iam_policy *p)
{
    static atomic_uint_fast64_t next;
    uint_fast64_t unset = 0;
    atomic_compare_exchange_strong(&next, &unset, (uint_fast64_t)time(NULL) << 20);
    uint64_t n = (uint64_t)atomic_fetch_add(&next, 1);
    p->etag[0] = 0x07; /* as Cloud IAM's begin ("Bw...") */
    for (int i = 0; i < 7; i++)
        p->etag[1 + i] = (unsigned char)(n >> (8 * (6 - i)));
    p->etag_len = 8;
}

static int oom(emu_error *err)
{
    emu_error_set(err, "RESOURCE_EXHAUSTED", "The request could not be handled: out of memory.");
    return -1;
}

static int bad(emu_error *err, const char *field, const char *fmt, const char *what)
{
    emu_error_set(err, "INVALID_ARGUMENT", fmt, what, field);
    emu_error_field(err, field);
    return -1;
}

/* ---- syntax: members, roles, permissions --------------------------------------------- */

static int prefixed(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Labels of letters, digits and '-' (not at either end) joined by dots, two at least. */
static int domain_ok(const char *d, size_t n)
{
    size_t labels = 0, len = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            if (len == 0 || len > 63 || d[i - 1] == '-' || d[i - len] == '-')
                return 0;
            labels++;
            len = 0;
        } else if (isalnum((unsigned char)d[i]) || d[i] == '-') {
            len++;
        } else {
            return 0;
        }
    }
    return labels >= 2 && n <= 253;
}

static int email_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    size_t local = at ? (size_t)(at - s) : 0;
    if (!at || local == 0 || local > 64 || n > 254)
        return 0;
    for (size_t i = 0; i < local; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-/=?^_`{|}~.", s[i]))
            return 0;
    return domain_ok(at + 1, n - local - 1);
}

/* principal://HOST/PATH, principalSet://HOST/PATH: printable, no spaces. */
static int identity_uri_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!*s || *s == '/' || !slash || !slash[1])
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127)
            return 0;
    return 1;
}

/* user:, serviceAccount:, group:, domain:, allUsers, allAuthenticatedUsers, principal://,
** principalSet://, and deleted: before user:/serviceAccount:/group: (EMAIL?uid=N) or principal://. */
static int member_ok(const char *m)
{
    static const char *const kinds[] = {"user:", "serviceAccount:", "group:", "domain:"};
    if (strcmp(m, "allUsers") == 0 || strcmp(m, "allAuthenticatedUsers") == 0)
        return 1;
    if (prefixed(m, "principal://") || prefixed(m, "principalSet://"))
        return identity_uri_ok(strstr(m, "://") + 3);
    int deleted = prefixed(m, "deleted:");
    const char *r = deleted ? m + 8 : m;
    if (deleted && prefixed(r, "principal://"))
        return identity_uri_ok(r + 12);
    for (int k = 0; k < 4 - deleted; k++) {
        if (!prefixed(r, kinds[k]))
            continue;
        const char *v = r + strlen(kinds[k]);
        if (k == 3)
            return domain_ok(v, strlen(v));
        size_t n = strlen(v);
        if (deleted) {
            const char *uid = strstr(v, "?uid=");
            if (!uid || !uid[5] || strspn(uid + 5, "0123456789") != strlen(uid + 5))
                return 0;
            n = (size_t)(uid - v);
        }
        return email_ok(v, n);
    }
    return 0;
}

static int role_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 128 && *s != '.' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == n;
}

/* roles/NAME, projects/PROJECT/roles/NAME, organizations/NUMBER/roles/NAME. */
static int role_ok(const char *r)
{
    if (prefixed(r, "roles/"))
        return role_name_ok(r + 6);
    const char *id = prefixed(r, "projects/") ? r + 9 : prefixed(r, "organizations/") ? r + 14 : NULL;
    const char *allowed = id == r + 9 ? "abcdefghijklmnopqrstuvwxyz0123456789-.:" : "0123456789";
    size_t n = id ? strspn(id, allowed) : 0;
    return n > 0 && prefixed(id + n, "/roles/") && role_name_ok(id + n + 7);
}

/* SERVICE.RESOURCE.VERB: three or more names of letters, digits and '_'. */
static int permission_ok(const char *p)
{
    int parts = 0;
    for (;;) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        if (n == 0)
            return 0;
        parts++;
        p += n;
        if (!*p)
            return parts >= 3;
        if (*p++ != '.')
            return 0;
    }
}

/* ---- the policy as shown ------------------------------------------------------------- */

static int conditional(const cJSON *bindings)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, bindings)
    {
        if (cJSON_GetObjectItemCaseSensitive(b, "condition"))
            return 1;
    }
    return 0;
}

/* "_withcond_" and 20 hex digits of a hash of the condition (FNV-1a, twice). */
static void withcond_suffix(const cJSON *condition, char *out, size_t size)
{
    char *text = cJSON_PrintUnformatted(condition);
    uint64_t h1 = 14695981039346656037ULL, h2 = 1099511628211ULL * 31;
    for (const char *c = text ? text : ""; *c; c++) {
        h1 = (h1 ^ (unsigned char)*c) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)*c) * 1099511628211ULL;
    }
    free(text);
    snprintf(out, size, "_withcond_%016llx%04llx", (unsigned long long)h1, (unsigned long long)(h2 & 0xffff));
}

/* The answer: version, etag, bindings (in the proto's order; none: no field). */
static cJSON *show(const emu_iam_policy *p, int requested)
{
    const cJSON *bindings = p ? p->bindings : NULL;
    int full = requested == 3 || !conditional(bindings);
    char etag[4 * ((ETAG_MAX + 2) / 3) + 1];
    emu_base64_encode(p ? p->etag : never_set, p ? p->etag_len : sizeof never_set, etag);
    cJSON *out = cJSON_CreateObject();
    int ok = out && cJSON_AddNumberToObject(out, "version", full && conditional(bindings) ? 3 : 1) &&
             cJSON_AddStringToObject(out, "etag", etag);
    cJSON *list = NULL;
    if (ok && cJSON_GetArraySize(bindings) > 0 && !(list = cJSON_AddArrayToObject(out, "bindings")))
        ok = 0;
    const cJSON *b, *shown_ones = list ? bindings : NULL;
    cJSON_ArrayForEach(b, shown_ones)
    {
        const char *role = cJSON_GetObjectItemCaseSensitive(b, "role")->valuestring;
        const cJSON *condition = cJSON_GetObjectItemCaseSensitive(b, "condition");
        char shown[300], suffix[40] = "";
        if (condition && !full)
            withcond_suffix(condition, suffix, sizeof suffix);
        snprintf(shown, sizeof shown, "%s%s", role, suffix);
        cJSON *nb = cJSON_CreateObject();
        if (!nb || !cJSON_AddItemToArray(list, nb)) {
            cJSON_Delete(nb);
            ok = 0;
            break;
        }
        ok = cJSON_AddStringToObject(nb, "role", shown) &&
             cJSON_AddItemToObject(nb, "members", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "members"), 1)) &&
             (!condition || !full || cJSON_AddItemToObject(nb, "condition", cJSON_Duplicate(condition, 1)));
        if (!ok)
            break;
    }
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

cJSON *emu_iam_get(const emu_iam_policy *p, const char *requested, emu_error *err)
{
    long v = requested ? strtol(requested, NULL, 10) : 0;
    if (v != 0 && v != 1 && v != 3) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "Invalid requested policy version %.20s: the valid versions are 0, 1 and 3.", requested);
        emu_error_field(err, "options.requested_policy_version");
        return NULL;
    }
    cJSON *out = show(p, (int)v);
    if (!out)
        oom(err);
    return out;
}

/* ---- setting one ---------------------------------------------------------------------- */

/* Which of the Policy's fields an update mask names: bindings, etag, version, auditConfigs. */
static int read_mask(const cJSON *mask, int *bindings, emu_error *err)
{
    static const char *const names[] = {"bindings", "etag", "version", "auditConfigs", "audit_configs"};
    const char *m = cJSON_IsString(mask) ? mask->valuestring : "";
    *bindings = !*m; /* none: "bindings, etag", as the API says */
    while (*m) {
        size_t n = strcspn(m, ",");
        int known = -1;
        for (int i = 0; i < 5 && known < 0; i++)
            if (strlen(names[i]) == n && strncmp(m, names[i], n) == 0)
                known = i;
        if (known < 0) {
            char path[80];
            snprintf(path, sizeof path, "%.*s", (int)(n < 60 ? n : 60), m);
            return bad(err, "update_mask",
                       "Invalid update mask path \"%s\" at '%s': a Policy's fields are bindings, etag, version and "
                       "auditConfigs.",
                       path);
        }
        *bindings |= known == 0;
        m += n + (m[n] == ',');
    }
    return 0;
}

/* One binding checked, its members added to `into` (merged with one of the same role and condition). */
static int take_binding(cJSON *into, const cJSON *b, int i, emu_error *err)
{
    char at[96];
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(b, "role");
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(b, "members");
    const cJSON *condition = cJSON_GetObjectItemCaseSensitive(b, "condition");
    snprintf(at, sizeof at, "policy.bindings[%d].role", i);
    if (!cJSON_IsString(role) || !*role->valuestring)
        return bad(err, at, "A role is required%s at '%s'.", "");
    if (strstr(role->valuestring, "_withcond_"))
        return bad(err, at,
                   "Role \"%.100s\" at '%s' is how a version 1 policy shows a conditional binding: read the policy "
                   "with requestedPolicyVersion 3 and set it as version 3.",
                   role->valuestring);
    if (!role_ok(role->valuestring))
        return bad(err, at,
                   "Invalid role \"%.100s\" at '%s': a role is roles/NAME, projects/PROJECT/roles/NAME or "
                   "organizations/ORGANIZATION/roles/NAME.",
                   role->valuestring);
    if (condition) {
        const cJSON *expr = cJSON_GetObjectItemCaseSensitive(condition, "expression");
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(condition, "title");
        snprintf(at, sizeof at, "policy.bindings[%d].condition", i);
        if (!cJSON_IsString(expr) || !*expr->valuestring || !cJSON_IsString(title) || !*title->valuestring)
            return bad(err, at, "A condition needs an expression and a title%s at '%s'.", "");
    }
    cJSON *same = NULL, *o;
    cJSON_ArrayForEach(o, into)
    {
        const cJSON *has = cJSON_GetObjectItemCaseSensitive(o, "condition");
        if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "role")->valuestring, role->valuestring) == 0 &&
            (condition ? has && cJSON_Compare(has, condition, 1) : !has)) {
            same = o;
            break;
        }
    }
    if (!same) {
        same = cJSON_CreateObject();
        if (!same || !cJSON_AddItemToArray(into, same)) {
            cJSON_Delete(same);
            return oom(err);
        }
        /* half made on failure: `into` is freed by the caller */
        if (!cJSON_AddStringToObject(same, "role", role->valuestring) || !cJSON_AddArrayToObject(same, "members") ||
            (condition && !cJSON_AddItemToObject(same, "condition", cJSON_Duplicate(condition, 1))))
            return oom(err);
    }
    cJSON *list = cJSON_GetObjectItemCaseSensitive(same, "members");
    int k = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, members)
    {
        snprintf(at, sizeof at, "policy.bindings[%d].members[%d]", i, k++);
        if (!member_ok(m->valuestring))
            return bad(err, at,
                       "Policy members must be of the form \"<type>:<value>\": \"%.100s\" at '%s' is not one of "
                       "user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers, allAuthenticatedUsers, "
                       "principal://..., principalSet://... or deleted:MEMBER.",
                       m->valuestring);
        int known = 0;
        const cJSON *h;
        cJSON_ArrayForEach(h, list)
        {
            known |= strcmp(h->valuestring, m->valuestring) == 0;
        }
        if (!known && !cJSON_AddItemToArray(list, cJSON_CreateString(m->valuestring)))
            return oom(err);
    }
    return 0;
}

/* The bindings a policy asks for, checked and normalized (no binding left without members); NULL with err set. */
static cJSON *take_bindings(const cJSON *given, emu_error *err)
{
    int nmembers = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, given)
    {
        nmembers += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "members"));
    }
    if (nmembers > EMU_IAM_MAX_MEMBERS || cJSON_GetArraySize(given) > EMU_IAM_MAX_MEMBERS) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "The number of members in the policy (%d, in %d bindings) is larger than the maximum allowed "
                      "size %d.",
                      nmembers, cJSON_GetArraySize(given), EMU_IAM_MAX_MEMBERS);
        emu_error_field(err, "policy.bindings");
        return NULL;
    }
    cJSON *into = cJSON_CreateArray();
    int i = 0;
    if (!into) {
        oom(err);
        return NULL;
    }
    cJSON_ArrayForEach(b, given)
    {
        if (take_binding(into, b, i++, err) < 0) {
            cJSON_Delete(into);
            return NULL;
        }
    }
    for (cJSON *o = into->child, *next; o; o = next) {
        next = o->next;
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "members")) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(into, o));
    }
    return into;
}

/* 1 when the etag the policy carries (none: any) is the current one; else 0 with ABORTED set. */
static int etag_current(const emu_iam_policy *p, const cJSON *etag, emu_error *err)
{
    if (!cJSON_IsString(etag) || !*etag->valuestring)
        return 1;
    unsigned char given[ETAG_MAX];
    long n = emu_base64_decode(etag->valuestring, given, sizeof given);
    const unsigned char *have = p ? p->etag : never_set;
    size_t have_len = p ? p->etag_len : sizeof never_set;
    if (n == (long)have_len && memcmp(given, have, have_len) == 0)
        return 1;
    emu_error_set(err, "ABORTED",
                  "There were concurrent policy changes. Please retry the whole read-modify-write with exponential "
                  "backoff.");
    return 0;
}

cJSON *emu_iam_set(emu_iam_policy **slot, const cJSON *body, emu_error *err)
{
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(body, "policy");
    int in_mask = 0;
    if (!cJSON_IsObject(policy)) {
        bad(err, "policy", "A policy is required%s: '%s' is missing.", "");
        return NULL;
    }
    if (read_mask(cJSON_GetObjectItemCaseSensitive(body, "updateMask"), &in_mask, err) < 0)
        return NULL;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(policy, "version");
    int v = cJSON_IsNumber(version) ? (int)version->valuedouble : 0;
    if (v != 0 && v != 1 && v != 3) {
        char shown[24];
        snprintf(shown, sizeof shown, "%d", v);
        bad(err, "policy.version", "Invalid policy version %s at '%s': the valid versions are 0, 1 and 3.", shown);
        return NULL;
    }
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(policy, "auditConfigs")) > 0) {
        bad(err, "policy.audit_configs",
            "Audit logging is configured in the project's policy, not a job's%s: '%s' must be empty.", "");
        return NULL;
    }
    const cJSON *etag = cJSON_GetObjectItemCaseSensitive(policy, "etag");
    emu_iam_policy *p = *slot;
    if (!etag_current(p, etag, err))
        return NULL;
    cJSON *bindings = NULL;
    if (in_mask) {
        if (!(bindings = take_bindings(cJSON_GetObjectItemCaseSensitive(policy, "bindings"), err)))
            return NULL;
        /* version 3 for conditions; and a change made from a view that hid them must not drop them */
        const char *why = conditional(bindings) && v != 3 ? "A policy with conditional role bindings must be version 3"
                          : p && conditional(p->bindings) && v != 3 && cJSON_IsString(etag) && *etag->valuestring
                              ? "The policy has conditional role bindings: a change to it must be made as version 3"
                              : NULL;
        if (why) {
            cJSON_Delete(bindings);
            bad(err, "policy.version", "%s ('%s'): read it with requestedPolicyVersion 3 and set version 3.", why);
            return NULL;
        }
    }
    emu_iam_policy *next = calloc(1, sizeof *next);
    if (!next || (!in_mask && p && p->bindings && !(bindings = cJSON_Duplicate(p->bindings, 1)))) {
        free(next);
        oom(err);
        return NULL;
    }
    next->bindings = bindings;
    new_etag(next);
    cJSON *out = show(next, 3);
    if (!out) {
        emu_iam_policy_free(next);
        oom(err);
        return NULL;
    }
    emu_iam_policy_free(p);
    *slot = next;
    return out;
}

cJSON *emu_iam_test(const cJSON *body, emu_error *err)
{
    const cJSON *asked = body ? cJSON_GetObjectItemCaseSensitive(body, "permissions") : NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON *granted = cJSON_CreateArray();
    int i = 0, ok = out && granted;
    const cJSON *a, *each = ok ? asked : NULL;
    cJSON_ArrayForEach(a, each)
    {
        char at[40];
        snprintf(at, sizeof at, "permissions[%d]", i++);
        if (strchr(a->valuestring, '*') || !permission_ok(a->valuestring)) {
            bad(err, at,
                "Invalid permission \"%.100s\" at '%s': a permission is SERVICE.RESOURCE.VERB, such as run.jobs.run "
                "(no wildcards).",
                a->valuestring);
            cJSON_Delete(out);
            cJSON_Delete(granted);
            return NULL;
        }
        int twice = 0;
        const cJSON *g;
        cJSON_ArrayForEach(g, granted)
        {
            twice |= strcmp(g->valuestring, a->valuestring) == 0;
        }
        if (prefixed(a->valuestring, "run.jobs.") && !twice)
            ok = cJSON_AddItemToArray(granted, cJSON_CreateString(a->valuestring));
    }
    if (ok && cJSON_GetArraySize(granted) > 0)
        ok = cJSON_AddItemToObject(out, "permissions", granted);
    else
        cJSON_Delete(granted);
    if (!ok) {
        cJSON_Delete(out);
        oom(err);
        return NULL;
    }
    return out;
}
