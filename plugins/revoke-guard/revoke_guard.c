// Example revoke-token plugin in C.
//
// - Tokens that carry the scope named by config `locked_scope` cannot be revoked through the
//   API: the request is denied with `access_denied` (an administrator revokes them).
// - Callers listed (comma-separated) in config `skip_clients` get 200 and nothing is revoked.
// - Everything else is allowed.
#include <stdlib.h>
#include <string.h>
#include "revoke_token_plugin.h"

typedef revoke_token_plugin_string_t str_t;

static bool str_eq(const str_t *s, const char *c, size_t n) {
  return s->len == n && memcmp(s->ptr, c, n) == 0;
}

// Whether `needle` is one of the comma-separated items of `list`.
static bool in_list(const str_t *list, const str_t *needle) {
  size_t start = 0;
  for (size_t i = 0; i <= list->len; i++) {
    if (i == list->len || list->ptr[i] == ',') {
      if (i - start == needle->len &&
          memcmp(list->ptr + start, needle->ptr, needle->len) == 0) {
        return true;
      }
      start = i + 1;
    }
  }
  return false;
}

static bool config(const char *key, str_t *out) {
  str_t k;
  revoke_token_plugin_string_set(&k, key);
  return tessera_plugin_host_config(&k, out);
}

bool exports_tessera_plugin_revoke_token_revoke_token(
    exports_tessera_plugin_revoke_token_context_t *ctx,
    exports_tessera_plugin_revoke_token_decision_t *ret, str_t *err) {
  (void)err;
  ret->tag = EXPORTS_TESSERA_PLUGIN_REVOKE_TOKEN_DECISION_ALLOW;

  str_t skip;
  if (config("skip_clients", &skip)) {
    if (in_list(&skip, &ctx->caller.client_id)) {
      ret->tag = EXPORTS_TESSERA_PLUGIN_REVOKE_TOKEN_DECISION_SKIP;
    }
    revoke_token_plugin_string_free(&skip);
  }

  str_t locked;
  if (ret->tag == EXPORTS_TESSERA_PLUGIN_REVOKE_TOKEN_DECISION_ALLOW &&
      config("locked_scope", &locked)) {
    for (size_t i = 0; i < ctx->token.scopes.len; i++) {
      if (str_eq(&ctx->token.scopes.ptr[i], (const char *)locked.ptr, locked.len)) {
        ret->tag = EXPORTS_TESSERA_PLUGIN_REVOKE_TOKEN_DECISION_DENY;
        revoke_token_plugin_string_dup(&ret->val.deny.error, "access_denied");
        ret->val.deny.description.is_some = true;
        revoke_token_plugin_string_dup(
            &ret->val.deny.description.val,
            "tokens with this scope are revoked by an administrator only");
        str_t line;
        revoke_token_plugin_string_set(&line, "refused to revoke a locked token");
        tessera_plugin_host_log(TESSERA_PLUGIN_HOST_LEVEL_INFO, &line);
        break;
      }
    }
    revoke_token_plugin_string_free(&locked);
  }

  exports_tessera_plugin_revoke_token_context_free(ctx);
  return true;
}
