#!/usr/bin/env bash
# unisend beside its peers on the shared harness (../shared/bench), in ONE run per command.
#
#   benchmarks/run.sh            # peers + unisend cases, n=2000, 3 repeats (~12 min)
#   benchmarks/run.sh imports    # cold `import unisend` time
#   benchmarks/run.sh quick      # smoke test: n=200, 1 repeat
#
# VENV (default /tmp/unisend-benchvenv) is a throwaway virtualenv OUTSIDE the repository
# with the exact peer versions (requirements-peers.txt) plus pyinstrument and unisend's
# runtime dependencies; unisend is put on its path from this checkout with a .pth file
# (the package itself is not built or installed).
# Output: benchmarks/out/<what>-<UTC time>.{jsonl,md} (raw JSON lines and the table).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="${BENCH:-$ROOT/../shared/bench}"
VENV="${VENV:-/tmp/unisend-benchvenv}"
PY="${PYTHON:-python3.11}"
WHAT="${1:-full}"
OUT="$ROOT/benchmarks/out"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q -r "$BENCH/requirements-peers.txt" pyinstrument
# unisend's own runtime dependencies and its "fast" extra, as pyproject.toml declares them
# (what `pip install unisend[fast]` would add to the peers' versions, e.g. sniffio)
"$VENV/bin/python" - "$ROOT/pyproject.toml" > "$VENV/unisend-requirements.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["fast"]))
PY
"$VENV/bin/pip" install -q -r "$VENV/unisend-requirements.txt"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT" > "$SITE/unisend-checkout.pth"

OURS=unisend_smtp,unisend_sendgrid,unisend_postmark,unisend_mailjet,unisend_brevo
OURS=$OURS,unisend_mailtrap,unisend_mailtrap_tls,unisend_postmark_batch,unisend_mailtrap_batch
OURS=$OURS,unisend_sendgrid_async128_lat50,unisend_sendgrid_async128_lat50_httpcore
OURS=$OURS,unisend_sendgrid_async32_lat50
# the peers each of our cases is compared with (their limit cases are added by peers.py)
PEERS=django_smtp,sendgrid_sdk,postmarker,mailjet_rest,sib_api_v3_sdk,brevo_python
PEERS=$PEERS,mailtrap_sdk,mailtrap_sending_api,anymail_sendgrid,anymail_postmark
PEERS=$PEERS,httpx_async128_lat50,httpx_aiohttp_async128_lat50,httpx2_async128_lat50
PEERS=$PEERS,httpx_async32_lat50,httpx_aiohttp_async32_lat50
# the raw options measured to choose the async transport
OPTS=opt_httpx_pools8x16_async128_lat50,opt_httpx_pools32x4_async128_lat50
OPTS=$OPTS,opt_httpx_pools64x2_async128_lat50

export PYTHONDONTWRITEBYTECODE=1
cd "$ROOT"
case "$WHAT" in
    full)
        "$VENV/bin/python" "$BENCH/peers.py" --extra-cases benchmarks/cases.py \
            --cases "$OURS,$PEERS,$OPTS" --n 2000 --repeats 3 \
            --markdown "$OUT/peers-$STAMP.md" | tee "$OUT/peers-$STAMP.jsonl"
        ;;
    quick)
        "$VENV/bin/python" "$BENCH/peers.py" --extra-cases benchmarks/cases.py \
            --cases "$OURS" --n 256 --repeats 1 | tee "$OUT/quick-$STAMP.jsonl"
        ;;
    imports)
        PREFIX="$(mktemp -d)"
        "$VENV/bin/python" "$BENCH/import_times.py" --python "$VENV/bin/python" --repeats 7 \
            --pycache-prefix "$PREFIX" \
            --stmt "pydantic=from pydantic import BaseModel" \
            --stmt "pydantic + a one-field model=from pydantic import BaseModel; M = type('M', (BaseModel,), {'__annotations__': {'x': int}})" \
            --stmt "unisend=import unisend" \
            --stmt "unisend Mailer+Message=from unisend import Mailer, Message" \
            --stmt "unisend Mailer+Message, first Message()=from unisend import Mailer, Message; Message(sender='a@example.com', to='b@example.com', text='t')" \
            --stmt "unisend SMTPTransport=from unisend.transports import SMTPTransport" \
            --stmt "unisend SendGridTransport=from unisend.transports import SendGridTransport" \
            --markdown "$OUT/imports-$STAMP.md" | tee "$OUT/imports-$STAMP.jsonl"
        ;;
    *)
        echo "usage: $0 [full|quick|imports]" >&2
        exit 2
        ;;
esac
