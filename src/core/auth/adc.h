/*
** adc.h — Application Default Credentials: the search order Google's
** libraries share (env var, gcloud's well-known file, metadata server).
*/
#ifndef CR_AUTH_ADC_H
#define CR_AUTH_ADC_H

#include "util/util.h"

/* gcloud's configuration directory: $CLOUDSDK_CONFIG, else $HOME/.config/gcloud
** (what gcloud and Google's libraries read; the one place that says so). New
** string, or NULL when neither variable is set. */
CR_HIDDEN char *cr_gcloud_config_dir(void);

/* gcloud's well-known ADC file: $CLOUDSDK_CONFIG/application_default_credentials.json,
** else $HOME/.config/gcloud/application_default_credentials.json. New string,
** or NULL when neither variable is set. */
CR_HIDDEN char *cr_adc_well_known_file(void);

/* The ADC chain as a machine: $GOOGLE_APPLICATION_CREDENTIALS, then gcloud's
** file, then a probe of the metadata server (a SEND). Its result is taken
** with cr_adc_take: a credential (a new reference), or NULL with err set,
** naming every place looked at when none was found. */
CR_HIDDEN cr_machine *cr_adc_machine(cr_error *err);
CR_HIDDEN cr_credentials *cr_adc_take(cr_machine *m, cr_error *err);

#endif
