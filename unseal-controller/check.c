#include <pthread.h>
#include <stdio.h>

#include "ctl.h"

#include "banned.h"

int ctl_check_sealed(ctl *c, const json_t *doc, json_t *failed, size_t *n_values)
{
  json_t *enc = doc_get(doc, "spec", "encryptedData", NULL);
  const char *k;
  json_t *v;
  int rc = 0;

  *n_values = 0;
  pthread_rwlock_rdlock(&c->keys.lock);
  json_object_foreach(enc, k, v) {
    char label[KEYS_LABEL_MAX];
    manifest_error merr = {0};
    keys_error kerr = {0};
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const char *reason = NULL;
    const char *msg = NULL;
    (*n_values)++;
    if (!json_is_string(v)) {
      reason = "Malformed";
      msg = "the value is not a string";
    } else if (manifest_sealed_label(label, sizeof(label), doc, k, &merr) != MANIFEST_OK) {
      reason = "Invalid";
      msg = merr.message;
    } else {
      int s = keys_unseal(&plain, &plain_len, c->keys.ring, label, json_string_value(v),
                          json_string_length(v), NULL, &kerr);
      doc_wipe_free(plain, plain_len);
      if (s != KEYS_OK) {
        reason = manifest_unseal_reason(s);
        msg = kerr.message;
      }
    }
    if (reason && json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", k, "reason",
                                                          reason, "message", msg)) != 0)
      rc = -1;
  }
  if (rc == 0 && json_array_size(failed) == 0) {
    manifest_error merr = {0};
    manifest_unseal_report rep = {0};
    if (manifest_unseal_sealed(NULL, doc, c->keys.ring, MANIFEST_UNSEAL_KEEP_GOING, &rep, &merr) !=
        MANIFEST_OK)
      rc = json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", "", "reason",
                                                   rep.reason ? rep.reason : "Invalid", "message",
                                                   merr.message));
  }
  pthread_rwlock_unlock(&c->keys.lock);
  return rc;
}
