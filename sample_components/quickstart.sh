#!/usr/bin/env bash
# The README's main job on a fresh machine: install the project into .venv (shared with .ci/run),
# build the TTP sample component when it is missing (componentize-py, offline, ~20 s), run it
# through the reference host on the fixture events with the design document's pipeline policy,
# then certify it with the packaged conformance suite (pytest --component; the config comes
# from the component's own schema examples) at the marketplace tier.  No Docker: the suite
# starts embedded PostgreSQL and Redis for its host checks (or uses
# FLOWCTL_CONFORMANCE_POSTGRES_URL / FLOWCTL_CONFORMANCE_REDIS_URL).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import reference_host, componentize_py, matplotlib, cryptography" 2>/dev/null; then
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet -e ".[all]"
fi

python sample_components/build.py --only ttp_processor
mkdir -p reports
flowctl-host run sample_components/dist/ttp_processor.wasm \
    --policy fixtures/pipelines/stellar-ttp-pipeline.yaml --processor-id ttp-processor \
    --input fixtures/events/ttp_transactions.jsonl \
    --output reports/ttp-output.jsonl --errors reports/ttp-errors.jsonl --summary
echo "outputs: reports/ttp-output.jsonl ($(wc -l < reports/ttp-output.jsonl) events); errors: reports/ttp-errors.jsonl"

# (this repository's pytest settings name pytest-timeout, a dev tool the main job does not install)
python -m pytest -p no:cacheprovider -q -W "ignore::pytest.PytestConfigWarning" \
    --component sample_components/dist/ttp_processor.wasm \
    --conformance-level marketplace \
    --conformance-golden fixtures/events/ttp_transactions.jsonl:fixtures/expected/ttp/ttp_transactions__ttp.jsonl \
    --conformance-report-dir reports "$@"
