/*
** adc.h — Application Default Credentials: the search order Google's
** libraries share (env var, gcloud's well-known file, metadata server).
*/
#ifndef CR_AUTH_ADC_H
#define CR_AUTH_ADC_H

#include "util/util.h"

/* gcloud's well-known ADC file: $CLOUDSDK_CONFIG/application_default_credentials.json,
** else $HOME/.config/gcloud/application_default_credentials.json. New string,
** or NULL when neither variable is set. */
CR_HIDDEN char *cr_adc_well_known_file(void);

#endif
