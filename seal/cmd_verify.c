#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal verify [-f IN] [options]\n"
    "\n"
    "Sends each SealedSecret of IN (default stdin) to the controller's /v1/verify\n"
    "and reports for each whether every value unseals in the cluster. Exits 1 when\n"
    "any does not.\n"
    "\n"
    "  -f, --file IN              read IN instead of stdin\n"
    "      --cert FILE            offline: check every value is well-formed and sealed\n"
    "                             for a key of FILE, without the cluster (the label and\n"
    "                             commitment are not checked: only the private key can)\n"
    "  -o, --output FORMAT        text (default) or json: one document {\"results\": [...]}\n" SEAL_CLUSTER_HELP
        SEAL_HELP_HELP;

enum { OPT_CERT = SEAL_OPT_FIRST_FREE };

#define NOT_CHECKED "the label (namespace/name/key binding) and the commitment"

static const struct option longopts[] = {
    SEAL_CLUSTER_LONGOPTS,
    {"file", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"cert", required_argument, NULL, OPT_CERT},
    SEAL_LONGOPTS_END,
};

/* The controller's reasons as one line: its "failed" list ({key, reason,
 * message} each), a JSON message, or the text. */
static void reason_of(char *out, size_t size, const char *reply, size_t len)
{
  json_t *j = NULL, *failed, *f;
  const char *msg = NULL;
  size_t i, o = 0;

  if (reply && len)
    j = json_loadb(reply, len, 0, NULL);
  failed = json_object_get(j, "failed");
  if (json_is_array(failed) && json_array_size(failed) > 0) {
    out[0] = '\0';
    json_array_foreach(failed, i, f) {
      const char *key = json_string_value(json_object_get(f, "key"));
      const char *reason = json_string_value(json_object_get(f, "reason"));
      const char *m = json_string_value(json_object_get(f, "message"));
      int w;
      if (key && *key)
        w = snprintf(out + o, size - o, "%skey \"%s\": %s: %s", i ? "; " : "", key,
                     reason ? reason : "?", m ? m : "");
      else
        w = snprintf(out + o, size - o, "%s%s: %s", i ? "; " : "", reason ? reason : "?",
                     m ? m : "");
      if (w < 0 || (size_t)w >= size - o)
        break;
      o += (size_t)w;
    }
    json_decref(j);
    return;
  }
  if (j) {
    msg = json_string_value(json_object_get(j, "message"));
    if (msg == NULL)
      msg = json_string_value(json_object_get(j, "reason"));
  }
  if (msg == NULL && j) {
    char *dump = json_dumps(j, JSON_COMPACT);
    snprintf(out, size, "%s", dump ? dump : "");
    doc_json_free(dump);
    json_decref(j);
    return;
  }
  if (msg) {
    snprintf(out, size, "%s", msg);
    json_decref(j);
    return;
  }
  for (i = 0; reply && i < len && o + 3 < size; i++) {
    char ch = reply[i];
    if (ch == '\r')
      continue;
    if (ch == '\n') {
      if (i + 1 < len && o > 0) {
        out[o++] = ';';
        out[o++] = ' ';
      }
      continue;
    }
    out[o++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  out[o] = '\0';
}

/* One document's result for -o json: document (1-based), namespace, name,
 * valid, and the controller's failed list ({key, reason, message} each). */
static int add_result(json_t *results, const json_t *doc, size_t i, int valid, const char *reply,
                      size_t len)
{
  json_t *j = reply && len ? json_loadb(reply, len, 0, NULL) : NULL;
  json_t *failed = json_object_get(j, "failed"), *r;
  const char *ns = doc_get_string(doc, "metadata", "namespace", NULL);
  const char *nm = doc_get_string(doc, "metadata", "name", NULL);
  /* "o" takes the reference; json_pack drops it on failure */
  r = json_pack("{s:I, s:s?, s:s?, s:b, s:o}", "document", (json_int_t)(i + 1), "namespace", ns,
                "name", nm, "valid", valid, "failed",
                json_is_array(failed) ? json_incref(failed) : json_array());
  json_decref(j);
  if (r == NULL || json_array_append_new(results, r) != 0)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  return SEAL_OK;
}

/* Offline: each value of doc parses and carries a stanza for one of certs.
 * *reply receives a /v1/verify-like answer ({valid, failed}) for add_result. */
static int check_offline(char **reply, size_t *reply_len, int *valid, const json_t *doc,
                         const keys_public *certs, size_t n_certs)
{
  char *text = NULL;
  json_t *enc = doc_get(doc, "spec", "encryptedData", NULL), *v;
  json_t *failed = json_array(), *r = NULL;
  const char *key;
  int st = SEAL_OK;

  if (failed == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  if (!json_is_object(enc) &&
      json_array_append_new(failed,
                            json_pack("{s:s, s:s, s:s}", "key", "", "reason", "Malformed",
                                      "message", "spec.encryptedData: missing or not a map")))
    goto oom;
  json_object_foreach(enc, key, v) {
    uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    keys_error kerr = {0};
    size_t n = 0, i, j;
    const char *reason = NULL;
    char msg[600];
    if (!json_is_string(v)) {
      reason = "Malformed";
      snprintf(msg, sizeof msg, "not a string");
    } else if (keys_sealed_ids(ids, &n, json_string_value(v), json_string_length(v), &kerr) !=
               KEYS_OK) {
      reason = "Malformed";
      snprintf(msg, sizeof msg, "%s", kerr.message);
    } else {
      reason = "NoKey";
      snprintf(msg, sizeof msg, "no stanza for a key of --cert");
      for (i = 0; i < n && reason; i++)
        for (j = 0; j < n_certs && reason; j++)
          if (memcmp(ids[i], certs[j].id, KEYS_ID_BYTES) == 0)
            reason = NULL;
    }
    if (reason && json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", key, "reason",
                                                          reason, "message", msg)) != 0)
      goto oom;
  }
  *valid = json_array_size(failed) == 0;
  r = json_pack("{s:b, s:O}", "valid", *valid, "failed", failed);
  if (r == NULL || (text = json_dumps(r, JSON_COMPACT)) == NULL || (*reply = strdup(text)) == NULL)
    goto oom;
  *reply_len = strlen(*reply);
  goto out;
oom:
  st = seal_report(SEAL_ERR_ENV, "out of memory");
out:
  doc_json_free(text);
  json_decref(r);
  json_decref(failed);
  return st;
}

int cmd_verify(int argc, char **argv)
{
  seal_cluster_opts cluster = {0};
  doc_list docs = {0};
  manifest_error merr = {0};
  const char *in_path = NULL, *source, *cert_path = NULL;
  keys_public *certs = NULL;
  size_t n_certs = 0;
  size_t i, failed = 0;
  json_t *results = NULL;
  char *text = NULL;
  seal_cmdline cl = {.cmd = "verify",
                     .usage = usage_text,
                     .shortopts = "f:o:h",
                     .longopts = longopts,
                     .cluster = &cluster};
  int c, rc, json_out = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case 'f':
      in_path = optarg;
      break;
    case OPT_CERT:
      cert_path = optarg;
      break;
    case 'o':
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
        return seal_usage_error("verify", "verify: -o '%s': use text or json", optarg);
      if (strcmp(optarg, "json") == 0)
        json_out = 1;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (json_out && (results = json_array()) == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  if (cert_path) {
    keys_error kerr = {0};
    char *pem = NULL;
    size_t pem_len = 0;
    rc = keys_file_read(&pem, &pem_len, cert_path, SEAL_MAX_CERT_BYTES, &kerr);
    if (rc == KEYS_OK)
      rc = keys_armor_read_public(&certs, &n_certs, pem, pem_len, &kerr);
    free(pem);
    if (rc != KEYS_OK) {
      st = seal_report_keys(cert_path, &kerr, rc);
      goto out;
    }
  }
  source = seal_input_name(in_path);
  if ((st = seal_docs_read(&docs, NULL, in_path, manifest_is_sealed_secret, "SealedSecret")) !=
      SEAL_OK)
    goto out;
  for (i = 0; i < docs.n; i++) {
    char what[512], reason[600];
    char *body = NULL, *reply = NULL;
    size_t body_len = 0, reply_len = 0;
    long code = 0;

    seal_describe(what, sizeof what, docs.docs[i], i);
    rc = doc_write(&body, &body_len, &docs.docs[i], 1, DOC_JSON, &merr);
    if (rc != MANIFEST_OK) {
      st = seal_report_manifest(source, i, docs.docs[i], &merr, rc);
      goto out;
    }
    if (certs) {
      int valid = 0;
      st = check_offline(&reply, &reply_len, &valid, docs.docs[i], certs, n_certs);
      code = valid ? 200 : 409;
    } else {
      st = seal_cluster_verify(&reply, &reply_len, &code, &cluster, body, body_len);
    }
    doc_wipe_free(body, body_len);
    if (st != SEAL_OK) {
      free(reply);
      goto out;
    }
    reason_of(reason, sizeof reason, reply, reply_len);
    if (results && (code == 200 || code == 409 || code == 400 || code == 422) &&
        (st = add_result(results, docs.docs[i], i, code == 200, reply, reply_len)) != SEAL_OK) {
      free(reply);
      goto out;
    }
    free(reply);
    if (code == 200) {
      if (results == NULL && certs)
        seal_print_line(
            stdout,
            "%s: %s: well-formed, sealed for a key of %s (not checked offline: " NOT_CHECKED ")",
            source, what, cert_path);
      else if (results == NULL)
        seal_print_line(stdout, "%s: %s: ok", source, what);
    } else if (code == 409 || code == 400 || code == 422) {
      seal_report(SEAL_ERR_FOUND, "%s: %s: %s: %s", source, what,
                  certs ? "fails the offline check" : "does not unseal", reason);
      failed++;
    } else {
      st = seal_report(SEAL_ERR_ENV, "%s: %s: the controller answered HTTP %ld: %s", source, what,
                       code, reason);
      goto out;
    }
  }
  if (results) {
    json_t *root = certs ? json_pack("{s:O, s:[s, s]}", "results", results, "notChecked", "label",
                                     "commitment")
                         : json_pack("{s:O}", "results", results);
    if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL) {
      json_decref(root);
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
    json_decref(root);
    printf("%s\n", text);
  }
  if (failed)
    st = SEAL_ERR_FOUND;
out:
  doc_json_free(text);
  json_decref(results);
  free(certs);
  doc_list_free(&docs);
  return st;
}
