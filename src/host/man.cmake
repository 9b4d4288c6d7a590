# cmake -DPROGRAM=<host> -DARGS=<arg,arg> -DOUT=<file> -P man.cmake
# Runs a just-built host to print its man page (`cloudrun help --man`,
# `cloudrun-lua --man`: made from the tables its help prints) into OUT,
# whole or not at all.
string(REPLACE "," ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: ${rc}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
