// Test-only: kubeseal's encryption as a third party implements it (the npm
// package @socialgouv/aes-gcm-rsa-oaep), for tests/cli/test_migrate.py.
// Reads a JSON list of {cert, scope, namespace, name, values} on stdin and
// prints the list of Bitnami SealedSecrets getSealedSecret makes of them.
// scope: "strict", "namespace" or "cluster".
"use strict";
const { getSealedSecret } = require("@socialgouv/aes-gcm-rsa-oaep");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const out = [];
  for (const o of JSON.parse(input)) {
    out.push(await getSealedSecret({ pemKey: o.cert, scope: o.scope, namespace: o.namespace,
                                     name: o.name, values: o.values }));
  }
  process.stdout.write(JSON.stringify(out));
});
