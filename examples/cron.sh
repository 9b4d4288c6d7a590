#!/bin/sh
# The original story from cron: run the report job for one record with
# per-execution args, wait for the end, and let the exit status tell cron
# (and whoever reads its mail) how it went:
#   0 the execution succeeded, 1 it failed (its logs: the command printed),
#   2 a usage error, 3 the API could not be reached or refused the call.
#
# In a crontab (`crontab -e`), every night at 02:15 UTC for record 42:
#   CLOUDSDK_RUN_REGION=europe-west1
#   15 2 * * *  /srv/app/examples/cron.sh 42 >>/var/log/report-cron.log 2>&1
# The project, region and credentials come from the environment or gcloud's
# configuration (`gcloud config set project ...`), as for gcloud itself.
#
#   examples/cron.sh [ID]      (against the emulator: CLOUD_RUN_EMULATOR_HOST set)
set -u
id=${1:-42}
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

echo "$(stamp) report $id: starting"
cloudrun jobs execute report --args=manage.py,job,--id="$id" --wait
status=$?
case $status in
  0) echo "$(stamp) report $id: done" ;;
  1) echo "$(stamp) report $id: the execution FAILED" >&2 ;;
  *) echo "$(stamp) report $id: not run (cloudrun exit $status)" >&2 ;;
esac
exit $status
