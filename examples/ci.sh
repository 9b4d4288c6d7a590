#!/bin/sh
# A CI step: once the pipeline has built and pushed the app's image, point
# the report job at it and run it once as a smoke test; the step (and the
# pipeline) fails when the execution fails, with the job's logs in the CI log.
#
# GitHub Actions, after google-github-actions/auth (which sets
# GOOGLE_APPLICATION_CREDENTIALS):
#   - name: Smoke-test the report job
#     env:
#       GOOGLE_CLOUD_PROJECT: my-project
#       CLOUDSDK_RUN_REGION: europe-west1
#     run: examples/ci.sh "europe-west1-docker.pkg.dev/my-project/app/web:${{ github.sha }}"
#
#   examples/ci.sh IMAGE       (against the emulator: CLOUD_RUN_EMULATOR_HOST set)
set -u
image=${1:?usage: examples/ci.sh IMAGE}

# deploy: update the job's image (create it if it is not there yet), run it, wait
cloudrun jobs deploy report --image="$image" --execute-now --wait --quiet --format='value(name)' >execution.txt
status=$?
execution=$(sed 's|.*/||' execution.txt)
rm -f execution.txt
if [ "$status" -eq 0 ]; then
  echo "report job OK with $image (execution $execution)"
  exit 0
fi
echo "::error::the report job failed with $image (cloudrun exit $status)"
[ -n "$execution" ] && cloudrun jobs executions logs "$execution"
exit "$status"
