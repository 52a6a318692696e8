"""A local imitation of seven's phone-number API, for development, tests and benchmarks.

Run it: ``python -m sandbox --port 8081 --api-key KEY [--host 127.0.0.1]
[--signing-secret S] [--active N] [--available N] [--seed N] [--latency-ms N]
[--state-dir DIR]``; use
``http://127.0.0.1:8081/api`` where production uses ``https://gateway.seven.io/api``.
In code: :func:`create_sandbox_app`. In tests: ``tests/support/sandbox.py``. The service
contract's ``python -m app.seven.sandbox`` runs the same CLI. A package of its own, outside
``app``, so that the service's image does not carry it.

What it imitates (``docs/seven-api.md``)
----------------------------------------
* The six endpoints ``GET /api/numbers/available``, ``POST /api/numbers/order``,
  ``GET /api/numbers/active``, ``GET|PATCH|DELETE /api/numbers/active/{number}``, with
  seven's field names, JSON types (fees are JSON numbers) and envelopes:
  ``{"availableNumbers": [...]}``, ``{"activeNumbers": [...]}`` (no pagination), a bare
  ActiveNumber from GET/PATCH, ``{"success": true, "error": null}`` from an order and
  ``{"success": true}`` from a delete.
* Refused orders (unknown or taken number, already ordered, bad ``payment_interval``):
  HTTP 200 ``{"success": false, "error": "<text>"}``.
* Auth by ``X-Api-Key: KEY``, ``Authorization: Basic KEY`` (raw key) or ``Bearer KEY``.
  A wrong or missing key answers **HTTP 200, body ``900``, ``Content-Type:
  application/json``** (``900`` is valid JSON, so JSON-minded clients still parse it).
* With ``--signing-secret``: ``X-Signature``/``X-Timestamp``/``X-Nonce`` are checked with
  :func:`app.seven.signing.verify_signature` over the full URL as sent (``http://host:port``
  + raw path + query); a bad, missing or stale (> 30 s) signature or a nonce seen before
  answers HTTP 200 ``901``. Refusing replayed nonces is stricter than anything seven
  documents, and forces clients to re-sign retries, which they must do anyway for the
  30 s window.
* Bodies as JSON (JS SDK) or form (PHP SDK/OpenAPI; arrays as ``a[0]=``, ``a[]=`` or
  repeated ``a=``; an empty ``a=`` is an empty array); query string and body are merged,
  so ``delete_immediately`` works in either. Booleans: JSON ``true/false`` or
  ``true/false/1/0``; anything else is HTTP 422 ``{"success": false, "error": ...}``.
* Ordering moves a number from available to active with the fees of the chosen interval,
  ``created`` = now, Berlin time, ``"YYYY-MM-DD HH:MM:SS"``, and appends to the ledger.
* ``DELETE`` with ``delete_immediately=true`` removes the number (it goes back on sale);
  otherwise ``expires`` becomes the end of the current billing period (``created`` plus
  whole months or years, same format as ``created``) and the number stays active until
  then; it disappears on the first request after that moment. Deleting again keeps the
  first ``expires``.
* ``PATCH`` takes ``friendly_name``, ``sms_forward`` (digit strings), ``email_forward``
  and ``slack_forward`` (a URI, or a one-element array); an empty array disables that
  channel (``enabled: false``). ``forward_sms_mo.slack`` appears only once set. Invalid
  entries answer HTTP 422 with an error body.
* Unknown number on ``GET/PATCH/DELETE /numbers/active/{number}`` (undocumented at seven):
  **HTTP 404 ``{"success": false, "error": "Number not found."}``**; switchable to the same
  body with HTTP 200 (``PUT /_sandbox/config {"not_found": "error_200"}``). A bare code
  for it can be scripted with a ``bare_code`` fault.
* Inventory: deterministic from ``--seed``; valid numbers (``phonenumbers``) of 12
  countries (DE AT CH DK GB FR NL SE BE ES PL US), mobiles and landlines, varied features
  and fees; ``number_parsed`` is the INTERNATIONAL format. ``--active N`` pre-populates N
  numbers (100,000 take about 1.5 s) created up to three years ago, mixed intervals, some
  with forwarding or a pending ``expires``. The active list is encoded once per change.

What it does not imitate
------------------------
Numbers are not checked for the digits-only spelling beyond "not on offer" (``+49 ...``
is simply refused as not available); no money or balance (``/balance``), no webhooks
(``/hooks``, inbound SMS), no area-code search, no IP whitelist (903) or endpoint
permissions (902) except through ``bare_code`` faults, no OAuth token validation beyond
comparing with the key, no real rate limit. State is in memory in one process (with
``--state-dir DIR``, as ``make run`` starts it, the offer, active numbers and ledger are also
kept in ``DIR/state.json`` and found again by the next start: ``sandbox.persist``), and the
real service's wording of error texts is a guess.

Control API (no auth), under ``/_sandbox``
------------------------------------------
* ``POST /_sandbox/faults`` ``{"kind": K, "endpoint": E, "times": 1, "number": null, ...}``
  → 201, the fault with its ``id``. ``E`` is
  ``order|available|active_list|active_get|update|delete`` or ``*``; ``times`` null = until
  cleared. With ``number`` (digits, as seven writes numbers) a fault matches only requests
  about that number: the path's on ``/numbers/active/{number}``, the body's ``number``
  field (JSON or form) on an order; never the two lists. Faults are consumed in the order
  added, the first one matching the request striking it; ``times`` counts only matching
  requests. Kinds and their parameters:

  - ``latency`` ``{"ms": 1000}``: wait, then answer normally;
  - ``rate_limit`` ``{"retry_after": 3 | null}``: HTTP 429 ``{"message": ...}``,
    ``Retry-After`` if given;
  - ``server_error`` ``{"status": 500}``: that status, ``{"message": "Server Error"}``;
  - ``html`` ``{"status": 200}``: an HTML error page as a proxy or load balancer serves
    it, ``Content-Type: text/html``, with that status (e.g. 502);
  - ``empty_object``: HTTP 200, body ``{}``;
  - ``refuse`` ``{"message": "The request was refused."}``: the route's own refusal,
    ``{"success": false, "error": message}`` with HTTP 200 on ``order`` and ``delete``,
    422 on ``update``, 403 on the reads (``active_get``, ``active_list``, ``available``);
  - ``bare_code`` ``{"code": 900, "as_string": false}``: HTTP 200 with body ``900``
    (or ``"900"``); seven's codes: 500 no credit, 900 key, 901 signature, 902 access, 903 IP;
    any other (``999``) as an unknown one;
  - ``hang`` ``{"seconds": 300}``: sleep, then 504;
  - ``drop_before_commit``: start a response and close the connection halfway (httpx
    raises ``RemoteProtocolError``);
  - ``drop_after_commit``: the same, after the change was made.

  All but ``drop_after_commit`` strike before anything is changed. ``after_commit: true``
  on ``hang``, ``server_error``, ``html`` or ``empty_object`` makes the change first, then
  delays the real answer (``hang``) or replaces it. On a read there is nothing to change:
  those strike after the read.

  seven may still be carrying out a write whose answer was lost: ``visible_after_ms``
  (default 0) on ``drop_after_commit`` and the ``after_commit`` faults makes the change at
  once (a second order of the number is refused, the ledger has it), but
  ``GET /numbers/active/{number}`` and the number's entry in ``GET /numbers/active`` keep
  showing the state before (absent after an order, present after an immediate delete, the
  old fields after a PATCH or a period-end delete) until that many milliseconds after the
  change. A later write to the
  number that changes it and is not delayed shows everything at once (seven works through
  a number's writes in order); a later delayed one keeps the older state showing until
  the later instant.
* ``GET /_sandbox/faults`` (pending), ``DELETE /_sandbox/faults`` → ``{"cleared": n}``.
* ``GET /_sandbox/ledger`` → ``{"<number>": [{"number", "payment_interval", "setup",
  "basic_charge", "ordered_at"}, ...]}``: every accepted order, kept after deletion.
* ``GET /_sandbox/requests[?endpoint=E]`` → the last 2,000 ``/api`` requests
  (``method, endpoint, path, query, content_type, body, number, outcome, processed``).
  ``number`` is the path's number or an order's ``number`` field (null for the lists);
  ``outcome`` is ``ok``, ``refused`` (an order declined), ``not_found``, ``invalid``
  (422), ``900``, ``901`` or ``fault:<kind>``; ``processed`` is true when the request
  reached seven's handling (whatever it answered, and even when an after-commit fault
  then lost the answer), false when it was answered before (a 900, a fault struck first).
* ``GET /_sandbox/requests/counts?endpoint=E`` → ``{"<number>": n, ...}``: every request
  about a number that reached ``E``, however it was answered (faults, refusals, 900/901
  too); not capped like the log. Without ``endpoint``: ``{"<endpoint>": {...}, ...}``.
* ``POST /_sandbox/active`` ``{"number": "49...", <any ActiveNumber fields, nested objects
  merged>}`` → the resulting ActiveNumber: adds a number or changes one "outside the
  service" (not in the ledger). ``DELETE /_sandbox/active/{number}`` removes one.
* ``POST /_sandbox/reset``: back to the generated state (ledger, faults, log and counts
  cleared); with ``--state-dir``, to the account as this process loaded it.
* ``GET /_sandbox/state``: counts and pending faults. ``PUT /_sandbox/config``
  ``{"not_found": "http_404" | "error_200"}``.

seven's JS SDK against the sandbox
----------------------------------
``@seven.io/client`` (npm) sends JSON bodies, ``X-Api-Key`` (or ``Authorization: Bearer``),
booleans in GET queries as ``true``/``false``, and signs ``timestamp\\nnonce\\nMETHOD\\nURL\\n
md5(body)`` with the body as sent (``""`` for GET). Its ``Client.BASE_URL`` is a static
field; set it to the sandbox's ``/api`` URL. ``tests/sandbox/test_sandbox_js_sdk.py`` runs
its ``NumbersResource`` against the sandbox when the package is installed (see there).
"""

from sandbox.cli import main
from sandbox.http import create_sandbox_app

__all__ = ["create_sandbox_app", "main"]
