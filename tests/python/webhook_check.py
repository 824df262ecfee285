"""Verifies deliveries signed by the service with the Standard Webhooks reference library
(`standardwebhooks`, pinned in local/requirements.txt). Reads a JSON list on stdin, each
{"secret", "body", "headers"}; prints a JSON list of "ok" or the library's error for each, so the Rust
test can say which delivery a receiver accepts and which it refuses."""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

results = []
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"], json_parse=False)
        results.append("ok")
    except WebhookVerificationError as e:
        results.append(f"refused: {e}")
print(json.dumps(results))
