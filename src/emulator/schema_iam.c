/*
** schema_iam.c — google.iam.v1's request messages that a job's IAM methods
** read (google/iam/v1/{iam_policy,policy}.proto, google/type/expr.proto), as
** field tables for schema.c's walk.
*/
#include "schema.h"
#include "schema_table.h"

// clang-format off
static const field expr_f[] = {S("expression"), S("title"), S("description"), S("location"), END};
static const emu_message expr = {"google.type.Expr", expr_f, NULL};

static const field binding_f[] = {S("role"), SS("members"), M("condition", expr), END};
static const emu_message binding = {"google.iam.v1.Binding", binding_f, NULL};

static const field audit_log_config_f[] = {EN("logType", "google.iam.v1.AuditLogConfig.LogType"),
                                           SS("exemptedMembers"), END};
static const emu_message audit_log_config = {"google.iam.v1.AuditLogConfig", audit_log_config_f, NULL};
static const field audit_config_f[] = {S("service"), MS("auditLogConfigs", audit_log_config), END};
static const emu_message audit_config = {"google.iam.v1.AuditConfig", audit_config_f, NULL};

static const field policy_f[] = {I32("version"), MS("bindings", binding), MS("auditConfigs", audit_config),
                                 BY("etag"), END};
static const emu_message policy = {"google.iam.v1.Policy", policy_f, NULL};

static const field set_iam_policy_f[] = {S("resource"), M("policy", policy), FM("updateMask"), END};
const emu_message emu_msg_set_iam_policy = {"google.iam.v1.SetIamPolicyRequest", set_iam_policy_f, NULL};

static const field test_iam_f[] = {S("resource"), SS("permissions"), END};
const emu_message emu_msg_test_iam = {"google.iam.v1.TestIamPermissionsRequest", test_iam_f, NULL};
// clang-format on
